// Gate (DESIGN §6.1): the sf CLI converts force-app to Metadata API format offline, which is what a deploy and a
// package version build do first.
import fs from 'node:fs';
import path from 'node:path';
import { classesDir, copyProject, editFile, objectsDir, removeProject, repoRoot } from './support/project-copy';
import { convertSource, type ConvertResult } from './support/tools';

describe('sf project convert source', () => {
  let good: ConvertResult;
  let brokenXml: ConvertResult;
  let missingMeta: ConvertResult;
  const copies: string[] = [];

  beforeAll(() => {
    good = convertSource(repoRoot);

    const xmlCopy = copyProject();
    copies.push(xmlCopy);
    // Truncated mid-tag, as an interrupted save leaves it.
    editFile(xmlCopy, path.join(objectsDir, 'Contact', 'fields', 'AC_Status__c.field-meta.xml'), (xml) =>
      xml.slice(0, xml.indexOf('<type>') + 3),
    );
    brokenXml = convertSource(xmlCopy);

    const metaCopy = copyProject();
    copies.push(metaCopy);
    fs.rmSync(path.join(metaCopy, classesDir, 'OptOutSyncException.cls-meta.xml'));
    missingMeta = convertSource(metaCopy);
  }, 90_000);

  afterAll(() => {
    copies.forEach(removeProject);
    for (const result of [good, brokenXml, missingMeta]) {
      if (result) {
        fs.rmSync(path.dirname(result.outputDir), {
          recursive: true,
          force: true,
        });
      }
    }
  });

  test('when force-app is converted, then the CLI succeeds and every component lands in package.xml', () => {
    expect({ exitCode: good.exitCode, stderr: good.stderr }).toEqual({
      exitCode: 0,
      stderr: expect.any(String),
    });
    expect(good.missingFromOutput).toEqual([]);
    const manifest = fs.readFileSync(path.join(good.outputDir, 'package.xml'), 'utf8');
    for (const member of [
      'OptOut_Change__e',
      'OptOutSync__chn',
      'OptOutSync_chn_ContactChangeEvent',
      'ChangeEvents_LeadChangeEvent',
      'OptOutSyncTestUsers',
      'optOutSyncStatus',
      'optOutSyncAdmin',
      'Opt_out_sync',
      'OptOutRelayContract',
      'OptOutSync_Integration',
      'ContactOptOutRelay',
      'PushOptOutToActiveCampaign',
      'OptOutLeadConversion',
      'Contact-Opt-out Sync Contact Layout',
      'Lead-Opt-out Sync Lead Layout',
    ]) {
      expect(manifest).toContain(`<members>${member}</members>`);
    }
    expect(manifest).toContain('<version>65.0</version>');
    // No settings record: an upgrade would overwrite the admin's (the defaults live in OptOutSyncSettings).
    expect(manifest).not.toContain('<name>CustomMetadata</name>');
    // .forceignore keeps the component's Jest tests out of the package.
    expect(fs.existsSync(path.join(good.outputDir, 'lwc', 'optOutSyncStatus', 'optOutSyncStatus.js'))).toBe(true);
    expect(fs.existsSync(path.join(good.outputDir, 'lwc', 'optOutSyncStatus', '__tests__'))).toBe(false);
  });

  test('when a metadata file is not well-formed XML, then the conversion fails and names the file', () => {
    expect(brokenXml.exitCode).not.toBe(0);
    expect(brokenXml.stdout + brokenXml.stderr).toContain('AC_Status__c.field-meta.xml');
  });

  test('when a class has no -meta.xml, then the gate reports the class missing from the converted output', () => {
    expect(missingMeta.missingFromOutput).toEqual([path.join(classesDir, 'OptOutSyncException.cls')]);
  });
});
