// The vendors' documented examples (see fixtures/VENDOR-README.md for the source of each). A copy lives in the
// repo so that a clean clone is self-contained; fixtures-drift.test.ts keeps it equal to the steering copy.
import fs from 'node:fs';
import path from 'node:path';

export const fixturesDir = path.resolve(__dirname, '..', 'fixtures');

export function fixturePath(relative: string): string {
  return path.join(fixturesDir, relative);
}

export function readFixtureText(relative: string): string {
  return fs.readFileSync(fixturePath(relative), 'utf8');
}

export function readFixtureJson(relative: string): unknown {
  return JSON.parse(readFixtureText(relative)) as unknown;
}

export function listFixtures(relativeDir: string): string[] {
  return fs.readdirSync(fixturePath(relativeDir)).sort();
}
