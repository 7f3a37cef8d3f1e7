// Gate: the package's Apex tests pass in any customer org. They are named explicitly (RunSpecifiedTests), so a
// customer's own failing tests never block an install; their users come from the minimum-access profile and the
// package's permission sets with a unique username (usernames are global), never from a profile a customer may
// have renamed or changed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { classesDir, repoRoot } from './support/project-copy';

const scriptsDir = path.join(repoRoot, 'scripts');

function apexClasses(): { name: string; source: string }[] {
  return fs
    .readdirSync(path.join(repoRoot, classesDir))
    .filter((f) => f.endsWith('.cls'))
    .map((f) => ({ name: f.replace(/\.cls$/, ''), source: fs.readFileSync(path.join(repoRoot, classesDir, f), 'utf8') }));
}

describe('Apex tests that pass in any org', () => {
  test('when the scripts list the test classes, then they name exactly the classes with test methods', () => {
    const listed = spawnSync('bash', [path.join(scriptsDir, 'package-test-classes.sh')], { encoding: 'utf8' });
    expect(listed.status).toBe(0);
    const withTests = apexClasses()
      .filter((c) => /@IsTest\s+static void/.test(c.source))
      .map((c) => c.name)
      .sort();
    expect(withTests.length).toBeGreaterThanOrEqual(8);
    expect(listed.stdout.trim().split('\n')).toEqual(withTests);
  });

  test('when the scripts deploy or run tests, then they run only the specified tests', () => {
    for (const script of fs.readdirSync(scriptsDir).filter((f) => f.endsWith('.sh'))) {
      const source = fs.readFileSync(path.join(scriptsDir, script), 'utf8');
      expect({ script, runsOrgTests: /RunLocalTests|RunAllTestsInOrg/.test(source.replace(/#[^\n]*/g, '')) }).toEqual({
        script,
        runsOrgTests: false,
      });
      if (/--test-level/.test(source)) expect({ script, specified: /RunSpecifiedTests/.test(source) }).toEqual({ script, specified: true });
    }
  });

  test('when the Apex tests create users, then no profile but minimum access is named and no username is fixed', () => {
    const problems: string[] = [];
    for (const { name, source } of apexClasses()) {
      for (const match of source.matchAll(/FROM Profile WHERE Name = '([^']+)'/g)) {
        if (match[1] !== 'Minimum Access - Salesforce') problems.push(`${name}: profile '${match[1]}'`);
      }
      if (/Username\s*=\s*'[^']*'\s*[,)]/.test(source)) problems.push(`${name}: a fixed username`);
    }
    expect(problems).toEqual([]);
  });
});
