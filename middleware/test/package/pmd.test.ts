// Gate (DESIGN §6.4): PMD 7's Apex security, best-practice, error-prone, performance and ApexDoc rules
// (scripts/gates/pmd-ruleset.xml) find nothing at priority 1-3 (the threshold documented in docs/PACKAGE.md).
import fs from 'node:fs';
import path from 'node:path';
import { classesDir, copyProject, removeProject, repoRoot } from './support/project-copy';
import { pmdFailingPriority, runPmd, type PmdResult } from './support/tools';

const unsafeClass = `/**
 * @description Looks Contacts up by name.
 */
public with sharing class UnsafeLookup {
    /**
     * @description Contacts with this last name.
     * @param name a last name typed by a user
     * @return the matching Contacts
     */
    public static List<Contact> byName(String name) {
        return Database.query('SELECT Id FROM Contact WHERE LastName = \\'' + name + '\\'');
    }
}
`;
const classMeta = `<?xml version="1.0" encoding="UTF-8"?>
<ApexClass xmlns="http://soap.sforce.com/2006/04/metadata">
    <apiVersion>65.0</apiVersion>
    <status>Active</status>
</ApexClass>
`;

describe('PMD Apex rules', () => {
  let copy: string;
  let good: PmdResult;
  let broken: PmdResult;

  beforeAll(() => {
    good = runPmd(repoRoot);
    copy = copyProject();
    fs.writeFileSync(path.join(copy, classesDir, 'UnsafeLookup.cls'), unsafeClass);
    fs.writeFileSync(path.join(copy, classesDir, 'UnsafeLookup.cls-meta.xml'), classMeta);
    broken = runPmd(copy);
  }, 90_000);

  afterAll(() => removeProject(copy));

  test('when the package is analysed, then PMD reports no violation at the failing priorities', () => {
    expect(good.failures).toEqual([]);
  });

  test('when the package is analysed, then lower-priority findings are few enough to read', () => {
    // Not a gate: a guard that the ruleset keeps the report readable.
    expect(good.findings.length).toBeLessThan(20);
  });

  test('when a class concatenates user input into SOQL, then PMD reports the injection at a failing priority', () => {
    const injection = broken.failures.find((f) => f.kind === 'violation' && f.rule === 'ApexSOQLInjection');
    expect(injection).toEqual(expect.objectContaining({ file: path.join(classesDir, 'UnsafeLookup.cls'), line: 11 }));
    expect(injection?.kind === 'violation' && injection.priority).toBeLessThanOrEqual(pmdFailingPriority);
  });

  test('when the ruleset file does not exist, then the gate fails instead of passing silently', () => {
    expect(() => runPmd(repoRoot, path.join(copy, 'no-such-ruleset.xml'))).toThrow(/PMD failed to run/);
  });
});
