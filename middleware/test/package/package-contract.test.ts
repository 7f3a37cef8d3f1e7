// Contract (DESIGN §6.5): the names in middleware/src/salesforce/package-names.ts and the XML in force-app are
// one source of truth, checked both ways.
import fs from 'node:fs';
import path from 'node:path';
import { findContractMismatches } from './support/package-contract';
import { brokenCopies, editFile, objectsDir, replaceOnce, repoRoot } from './support/project-copy';

describe('package contract', () => {
  const brokenCopy = brokenCopies();

  test('when the middleware names are compared with force-app, then they agree both ways', () => {
    expect(findContractMismatches(repoRoot)).toEqual([]);
  });

  test('when an event field is renamed in force-app only, then both directions report it', () => {
    const copy = brokenCopy();
    const fields = path.join(copy, objectsDir, 'OptOut_Change__e', 'fields');
    fs.renameSync(path.join(fields, 'Source__c.field-meta.xml'), path.join(fields, 'Origin__c.field-meta.xml'));
    editFile(
      copy,
      path.join(objectsDir, 'OptOut_Change__e', 'fields', 'Origin__c.field-meta.xml'),
      replaceOnce('Source__c', 'Origin__c'),
    );
    expect(findContractMismatches(copy)).toEqual([
      'field OptOut_Change__e.Source__c: in package-names.ts, not in force-app',
      'field OptOut_Change__e.Origin__c: in force-app, not in package-names.ts',
    ]);
  });

  test('when a settings field exists only in force-app, then the contract reports it', () => {
    const copy = brokenCopy();
    const fields = path.join(copy, objectsDir, 'OptOutSync_Settings__mdt', 'fields');
    const source = fs.readFileSync(path.join(fields, 'Scope_AC_Tag__c.field-meta.xml'), 'utf8');
    fs.writeFileSync(
      path.join(fields, 'Batch_Size__c.field-meta.xml'),
      source.replace('Scope_AC_Tag__c', 'Batch_Size__c'),
    );
    expect(findContractMismatches(copy)).toContain(
      'field OptOutSync_Settings__mdt.Batch_Size__c: in force-app, not in package-names.ts',
    );
  });

  test('when a picklist value or a channel enrichment changes, then the contract reports each', () => {
    const copy = brokenCopy();
    editFile(
      copy,
      path.join(objectsDir, 'Lead', 'fields', 'AC_Status__c.field-meta.xml'),
      replaceOnce('<fullName>Bounced</fullName>', '<fullName>Bounce</fullName>'),
    );
    editFile(
      copy,
      path.join(
        'force-app',
        'main',
        'default',
        'platformEventChannelMembers',
        'OptOutSync_chn_ContactChangeEvent.platformEventChannelMember-meta.xml',
      ),
      replaceOnce('<name>Email</name>', '<name>Phone</name>'),
    );
    expect(findContractMismatches(copy)).toEqual(
      expect.arrayContaining([
        'Lead.AC_Status__c value Bounced: in package-names.ts, not in force-app',
        'enriched field of OptOutSync_chn_ContactChangeEvent: Email: in package-names.ts, not in force-app',
      ]),
    );
  });

  test('when the package ships a file for the standard ChangeEvents channel, then the contract refuses it', () => {
    const copy = brokenCopy();
    const channels = path.join(copy, 'force-app', 'main', 'default', 'platformEventChannels');
    fs.copyFileSync(
      path.join(channels, 'OptOutSync__chn.platformEventChannel-meta.xml'),
      path.join(channels, 'ChangeEvents.platformEventChannel-meta.xml'),
    );
    expect(findContractMismatches(copy)).toContain(
      'channel ChangeEvents: the standard channel must not be shipped, only its members',
    );
  });

  test('when the package ships a settings record, then the contract refuses it (an upgrade would overwrite the admin\'s)', () => {
    const copy = brokenCopy();
    const dir = path.join(copy, 'force-app', 'main', 'default', 'customMetadata');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'OptOutSync_Settings.Default.md-meta.xml'),
      [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<CustomMetadata xmlns="http://soap.sforce.com/2006/04/metadata" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
        '    <label>Default</label>',
        '    <protected>false</protected>',
        '    <values>',
        '        <field>Push_Enabled__c</field>',
        '        <value xsi:type="xsd:boolean">true</value>',
        '    </values>',
        '</CustomMetadata>',
        '',
      ].join('\n'),
    );
    expect(findContractMismatches(copy)).toEqual([
      "settings record Default: shipped in force-app, so an upgrade would overwrite the admin's",
    ]);
  });
});
