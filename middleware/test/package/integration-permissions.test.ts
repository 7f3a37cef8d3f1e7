// Gate: the integration permission set grants read on every custom field the middleware reads or writes. Without
// field-level security CDC and the REST API leave a field out silently (DESIGN §4), so a forgotten entry is a
// silent loss, not an error.
import fs from 'node:fs';
import path from 'node:path';
import { copyProject, editFile, removeProject, replaceOnce, repoRoot } from './support/project-copy';
import { findIntegrationPermissionGaps, listPermissionSets, readPermissionSet } from './support/force-app-metadata';
import { permissionSets, syncStateFields } from '../../src/salesforce/package-names';

const integrationFile = path.join(
  'force-app',
  'main',
  'default',
  'permissionsets',
  `${permissionSets.integration}.permissionset-meta.xml`,
);

describe('integration permission set', () => {
  let copy: string;

  beforeAll(() => {
    copy = copyProject();
  });

  afterAll(() => removeProject(copy));

  test('when the package is read, then every custom field of Contact, Lead and the audit object is readable', () => {
    expect(findIntegrationPermissionGaps(repoRoot, permissionSets.integration)).toEqual([]);
  });

  test('when the package is read, then the integration user can edit the opt-out and sync-state fields', () => {
    const permissions = readPermissionSet(repoRoot, permissionSets.integration);
    const editable = new Set(permissions.fieldPermissions.filter((p) => p.editable).map((p) => p.field));
    for (const objectName of ['Contact', 'Lead']) {
      expect(editable).toContain(`${objectName}.HasOptedOutOfEmail`);
      for (const field of Object.values(syncStateFields)) {
        expect(editable).toContain(`${objectName}.${field}`);
      }
    }
    // CDC delivers only records the subscriber can see: View All on both objects (DESIGN §3).
    for (const objectName of ['Contact', 'Lead']) {
      expect(permissions.objectPermissions).toContainEqual(
        expect.objectContaining({ object: objectName, allowRead: true, allowEdit: true, viewAllRecords: true }),
      );
    }
    expect(permissions.userPermissions).toContainEqual({ name: 'ApiEnabled', enabled: true });
  });

  test('when a Contact field loses its fieldPermissions entry, then the gate names that field', () => {
    editFile(
      copy,
      integrationFile,
      replaceOnce(
        [
          '    <fieldPermissions>',
          '        <editable>true</editable>',
          '        <field>Contact.AC_Hard_Bounced__c</field>',
          '        <readable>true</readable>',
          '    </fieldPermissions>',
          '',
        ].join('\n'),
        '',
      ),
    );
    expect(findIntegrationPermissionGaps(copy, permissionSets.integration)).toEqual([
      'Contact.AC_Hard_Bounced__c: no readable fieldPermissions entry',
    ]);
  });

  test('when a field is added to Lead without a permission, then the gate names the new field', () => {
    const leadFields = path.join(copy, 'force-app', 'main', 'default', 'objects', 'Lead', 'fields');
    fs.writeFileSync(
      path.join(leadFields, 'AC_List_Ids__c.field-meta.xml'),
      [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<CustomField xmlns="http://soap.sforce.com/2006/04/metadata">',
        '    <fullName>AC_List_Ids__c</fullName>',
        '    <label>AC List Ids</label>',
        '    <length>255</length>',
        '    <type>Text</type>',
        '</CustomField>',
        '',
      ].join('\n'),
    );
    expect(findIntegrationPermissionGaps(copy, permissionSets.integration)).toContain(
      'Lead.AC_List_Ids__c: no readable fieldPermissions entry',
    );
  });

  test('when the integration user loses read on the event, then the gate reports the event', () => {
    editFile(copy, integrationFile, replaceOnce('<object>OptOut_Change__e</object>', '<object>Some_Other__e</object>'));
    expect(findIntegrationPermissionGaps(copy, permissionSets.integration)).toContain(
      'OptOut_Change__e: no objectPermissions with allowRead',
    );
  });

  test('when the package is read, then no permission set lets a user publish OptOut_Change__e', () => {
    // Only the package's Apex publishes the event (system mode needs no create permission); a user who could
    // create it from the API or a Flow could forge opt-outs and opt-ins.
    const creators = listPermissionSets(repoRoot).filter((name) =>
      readPermissionSet(repoRoot, name).objectPermissions.some((p) => p.object === 'OptOut_Change__e' && p.allowCreate),
    );
    expect(creators).toEqual([]);
  });

  test('when the package is read, then the integration user reads Campaign and CampaignMember for the Campaign scope', () => {
    expect(
      readPermissionSet(repoRoot, permissionSets.integration).objectPermissions.filter((p) =>
        ['Campaign', 'CampaignMember'].includes(p.object),
      ),
    ).toEqual([
      expect.objectContaining({ object: 'Campaign', allowRead: true, allowCreate: false, allowEdit: false }),
      expect.objectContaining({ object: 'CampaignMember', allowRead: true, allowCreate: false, allowEdit: false }),
    ]);
  });
});
