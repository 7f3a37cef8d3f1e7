// Gate: the package's page layouts are new layouts beside the customer's (the admin assigns them), name only fields
// that exist, hold the fields a deploy requires as Required, and show the package's sync fields read-only.
import fs from 'node:fs';
import path from 'node:path';
import { readObjectFields } from './support/force-app-metadata';
import { findLayoutProblems, readLayouts, standardFields, syncFields } from './support/page-layouts';
import { copyProject, editFile, removeProject, replaceOnce, repoRoot } from './support/project-copy';

const layoutsDir = path.join('force-app', 'main', 'default', 'layouts');
const contactLayout = path.join(layoutsDir, 'Contact-Opt-out Sync Contact Layout.layout-meta.xml');
const leadLayout = path.join(layoutsDir, 'Lead-Opt-out Sync Lead Layout.layout-meta.xml');

describe('page layouts', () => {
  const copies: string[] = [];
  afterAll(() => copies.forEach(removeProject));

  function brokenCopy(file: string, edit: (source: string) => string): string {
    const copy = copyProject();
    copies.push(copy);
    editFile(copy, file, edit);
    return copy;
  }

  test('when the layouts are read, then each names existing fields, the required ones as Required, and the sync fields read-only', () => {
    expect(readLayouts(repoRoot).map((l) => l.fullName)).toEqual([
      'Contact-Opt-out Sync Contact Layout',
      'Lead-Opt-out Sync Lead Layout',
    ]);
    expect(findLayoutProblems(repoRoot)).toEqual([]);
  }, 60_000);

  test('when the package fields on Contact and Lead are listed, then they are the sync fields, on both layouts in the "Opt-out sync" section', () => {
    for (const objectName of ['Contact', 'Lead']) {
      expect(readObjectFields(repoRoot, objectName).map((f) => f.name).sort()).toEqual([...syncFields].sort());
      const layout = readLayouts(repoRoot).find((l) => l.objectName === objectName);
      const section = layout?.items.filter((i) => i.section === 'Opt-out sync') ?? [];
      expect(section).toEqual(
        expect.arrayContaining(syncFields.map((field) => ({ section: 'Opt-out sync', field, behavior: 'Readonly' }))),
      );
      // The opt-out itself stays editable there: it is what a user changes.
      expect(section).toContainEqual({ section: 'Opt-out sync', field: 'HasOptedOutOfEmail', behavior: 'Edit' });
    }
  });

  test('when the standard fields are read from apex-ls, then they include the compound and opt-out fields the layouts use', () => {
    expect([...standardFields('Contact')]).toEqual(expect.arrayContaining(['Name', 'MailingAddress', 'HasOptedOutOfEmail', 'AccountId']));
    expect([...standardFields('Lead')]).toEqual(expect.arrayContaining(['Name', 'Address', 'Company', 'Status']));
    expect(standardFields('Lead').has('MailingAddress')).toBe(false);
  }, 60_000);

  test('when a layout names a field that does not exist, then the gate reports it', () => {
    const copy = brokenCopy(contactLayout, replaceOnce('<field>Department</field>', '<field>Departement</field>'));
    expect(findLayoutProblems(copy)).toEqual([
      'Contact-Opt-out Sync Contact Layout: Departement is neither a field of the package nor a standard field of Contact',
    ]);
  }, 60_000);

  test('when a layout names a standard field that no layout can hold, then the gate reports it', () => {
    const copy = brokenCopy(leadLayout, (xml) =>
      xml.replace('<field>Rating</field>', '<field>SystemModstamp</field>').replace('<field>Industry</field>', '<field>MasterRecordId</field>'),
    );
    expect(findLayoutProblems(copy)).toEqual([
      'Lead-Opt-out Sync Lead Layout: SystemModstamp is a system field no layout can hold',
      'Lead-Opt-out Sync Lead Layout: MasterRecordId is a system field no layout can hold',
    ]);
  }, 60_000);

  test('when a sync field is editable or missing, then the gate reports each', () => {
    const copy = brokenCopy(leadLayout, (xml) =>
      xml
        .replace('<behavior>Readonly</behavior>\n                <field>AC_Status__c</field>', '<behavior>Edit</behavior>\n                <field>AC_Status__c</field>')
        .replace(/\s*<layoutItems>\s*<behavior>Readonly<\/behavior>\s*<field>AC_Contact_Id__c<\/field>\s*<\/layoutItems>/, ''),
    );
    expect(findLayoutProblems(copy)).toEqual([
      'Lead-Opt-out Sync Lead Layout: sync field AC_Contact_Id__c is missing',
      'Lead-Opt-out Sync Lead Layout: sync field AC_Status__c is Edit, not Readonly',
    ]);
  }, 60_000);

  test('when a field the layout must require is only editable, then the gate reports it', () => {
    const copy = brokenCopy(leadLayout, replaceOnce('<behavior>Required</behavior>\n                <field>Status</field>', '<behavior>Edit</behavior>\n                <field>Status</field>'));
    expect(findLayoutProblems(copy)).toEqual(['Lead-Opt-out Sync Lead Layout: Status must be on the layout as Required, is Edit']);
  }, 60_000);

  test('when a new package field is not on the layouts, then the gate reports it on both', () => {
    const copy = copyProject();
    copies.push(copy);
    for (const objectName of ['Contact', 'Lead']) {
      const fields = path.join(copy, 'force-app', 'main', 'default', 'objects', objectName, 'fields');
      const source = fs.readFileSync(path.join(fields, 'AC_Contact_Id__c.field-meta.xml'), 'utf8');
      fs.writeFileSync(path.join(fields, 'AC_List_Count__c.field-meta.xml'), source.replace('AC_Contact_Id__c', 'AC_List_Count__c'));
    }
    expect(findLayoutProblems(copy)).toEqual([
      'Contact-Opt-out Sync Contact Layout: sync field AC_List_Count__c is missing',
      'Lead-Opt-out Sync Lead Layout: sync field AC_List_Count__c is missing',
    ]);
  }, 60_000);

  test('when the package ships a layout under the standard layout\'s name, then the gate refuses it', () => {
    const copy = copyProject();
    copies.push(copy);
    fs.renameSync(path.join(copy, contactLayout), path.join(copy, layoutsDir, 'Contact-Contact Layout.layout-meta.xml'));
    expect(findLayoutProblems(copy)).toEqual([
      "Contact-Contact Layout: the standard layout's name, so the package would replace the customer's layout",
    ]);
  }, 60_000);
});
