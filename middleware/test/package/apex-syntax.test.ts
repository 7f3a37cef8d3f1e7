// Gate (DESIGN §6.2): every Apex file parses with @apexdevtools/apex-parser and is formatted by Prettier with
// prettier-plugin-apex (Salesforce's own parser, hence a second syntax check).
import fs from 'node:fs';
import path from 'node:path';
import { classesDir, copyProject, editFile, removeProject, replaceOnce, repoRoot } from './support/project-copy';
import { parseAllApex, prettierCheck, type PrettierCheck } from './support/tools';

const brokenClass = path.join(classesDir, 'OptOutEventPublisher.cls');
const unformattedClass = path.join(classesDir, 'OptOutSyncException.cls');

describe('Apex syntax', () => {
  let copy: string;
  let goodPrettier: PrettierCheck;
  let brokenPrettier: PrettierCheck;

  beforeAll(() => {
    copy = copyProject();
    // A missing semicolon: the kind of slip an editor without Apex support lets through.
    editFile(copy, brokenClass, replaceOnce('published.add(events[i]);', 'published.add(events[i])'));
    editFile(copy, unformattedClass, replaceOnce('public with sharing class', 'public   with sharing\nclass'));
    goodPrettier = prettierCheck(repoRoot);
    brokenPrettier = prettierCheck(copy);
  }, 60_000);

  afterAll(() => removeProject(copy));

  test('when the package is parsed, then every class and trigger parses without errors', () => {
    const { files, issues } = parseAllApex(repoRoot);
    expect(files.filter((f) => f.endsWith('.trigger'))).toHaveLength(4);
    expect(files.length).toBeGreaterThanOrEqual(14);
    expect(issues).toEqual([]);
  });

  test('when a statement lacks its semicolon, then the parser reports the file and line', () => {
    const { issues } = parseAllApex(copy);
    expect(issues.length).toBeGreaterThan(0);
    expect(new Set(issues.map((i) => i.file))).toEqual(new Set([path.join(copy, brokenClass)]));
    const brokenLine =
      fs
        .readFileSync(path.join(repoRoot, brokenClass), 'utf8')
        .split('\n')
        .findIndex((line) => line.includes('published.add(events[i]);')) + 1;
    // ANTLR reports the missing token where it notices it: on the broken statement or the next one.
    expect(issues[0]?.message).toContain("missing ';'");
    expect(issues[0]?.line).toBeGreaterThanOrEqual(brokenLine - 1);
    expect(issues[0]?.line).toBeLessThanOrEqual(brokenLine + 1);
  });

  test('when prettier checks the package, then every Apex file is formatted', () => {
    expect(goodPrettier.flagged).toEqual([]);
    expect(goodPrettier.exitCode).toBe(0);
  });

  test('when a file is unformatted or unparsable, then prettier flags both', () => {
    expect(brokenPrettier.exitCode).not.toBe(0);
    expect(brokenPrettier.flagged).toEqual(
      [brokenClass, unformattedClass].map((f) => f.split(path.sep).join('/')).sort(),
    );
  });
});
