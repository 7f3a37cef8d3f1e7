// Gate (DESIGN §6.3): the apex-ls semantic checker (the jar shipped in @salesforce/code-analyzer-pmd-engine)
// finds unknown fields and types and missing -meta.xml files, which no syntax check can.
import fs from 'node:fs';
import path from 'node:path';
import {
  classesDir,
  copyProject,
  editFile,
  objectsDir,
  removeProject,
  replaceOnce,
  repoRoot,
} from './support/project-copy';
import { runApexLs, type ApexLsResult } from './support/tools';

describe('apex-ls CheckForIssues', () => {
  let copy: string;
  let good: ApexLsResult;
  let broken: ApexLsResult;

  beforeAll(() => {
    good = runApexLs(repoRoot);
    copy = copyProject();
    // A misspelt standard field.
    editFile(
      copy,
      path.join(classesDir, 'OptOutRecordQueryTest.cls'),
      replaceOnce("Email = 'contact@example.com',\n            HasOptedOutOfEmail = true", "Email = 'contact@example.com',\n            HasOptedOutOfEmial = true"),
    );
    // A Platform Event field renamed in the XML while the Apex still uses the old name.
    const eventFields = path.join(copy, objectsDir, 'OptOut_Change__e', 'fields');
    fs.renameSync(
      path.join(eventFields, 'Source__c.field-meta.xml'),
      path.join(eventFields, 'Origin__c.field-meta.xml'),
    );
    editFile(
      copy,
      path.join(objectsDir, 'OptOut_Change__e', 'fields', 'Origin__c.field-meta.xml'),
      replaceOnce('Source__c', 'Origin__c'),
    );
    // A class without its -meta.xml.
    fs.rmSync(path.join(copy, classesDir, 'OptOutSyncException.cls-meta.xml'));
    broken = runApexLs(copy);
  }, 90_000);

  afterAll(() => removeProject(copy));

  test('when the package is checked, then apex-ls reports no issue and exits 0', () => {
    expect(good.issues).toEqual([]);
    expect(good.exitCode).toBe(0);
  });

  test('when a standard field is misspelt, then apex-ls reports the unknown field and exits 4', () => {
    expect(broken.exitCode).toBe(4);
    expect(broken.issues).toContainEqual(
      expect.objectContaining({
        file: path.join(classesDir, 'OptOutRecordQueryTest.cls'),
        message: expect.stringContaining("Unknown field 'HasOptedOutOfEmial' on SObject 'Schema.Contact'"),
      }),
    );
  });

  test('when an event field is renamed in the XML only, then apex-ls reports each Apex use of the old name', () => {
    const unknownSource = broken.issues.filter((i) => i.message.includes("Unknown field 'Source__c'"));
    expect(unknownSource.map((i) => i.file)).toEqual(
      expect.arrayContaining([path.join(classesDir, 'OptOutManualPublisher.cls')]),
    );
  });

  test('when a class has no -meta.xml, then apex-ls reports it', () => {
    expect(broken.issues).toContainEqual(
      expect.objectContaining({
        file: path.join(classesDir, 'OptOutSyncException.cls'),
        message: expect.stringContaining('meta file is missing'),
      }),
    );
  });
});
