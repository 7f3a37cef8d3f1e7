// Copies of the Salesforce project in a temp dir, so that a gate test can break one file and prove the gate
// notices, without touching the real force-app.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const repoRoot = path.resolve(__dirname, '..', '..', '..', '..');
export const forceAppDir = path.join(repoRoot, 'force-app');
export const classesDir = path.join('force-app', 'main', 'default', 'classes');
export const objectsDir = path.join('force-app', 'main', 'default', 'objects');

/** Copies force-app, sfdx-project.json and .prettierrc into a fresh temp dir and returns the dir. */
export function copyProject(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'optout-sync-force-app-'));
  fs.cpSync(forceAppDir, path.join(dir, 'force-app'), { recursive: true });
  for (const file of ['sfdx-project.json', '.prettierrc']) {
    fs.copyFileSync(path.join(repoRoot, file), path.join(dir, file));
  }
  // Prettier resolves the plugin named in .prettierrc from the config's directory.
  fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return dir;
}

export function removeProject(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** For a describe block: returns a maker of project copies to break, all removed after the block. */
export function brokenCopies(): () => string {
  const copies: string[] = [];
  afterAll(() => copies.forEach(removeProject));
  return () => {
    const copy = copyProject();
    copies.push(copy);
    return copy;
  };
}

/** Rewrites one file of a project copy; throws when the edit changes nothing, so a stale break fails loudly. */
export function editFile(projectDir: string, relative: string, edit: (source: string) => string): void {
  const file = path.join(projectDir, relative);
  const before = fs.readFileSync(file, 'utf8');
  const after = edit(before);
  if (after === before) {
    throw new Error(`editing ${relative} changed nothing: the test's break no longer applies`);
  }
  fs.writeFileSync(file, after);
}

export function replaceOnce(search: string, replacement: string): (source: string) => string {
  return (source) => {
    if (!source.includes(search)) {
      throw new Error(`"${search}" not found`);
    }
    return source.replace(search, replacement);
  };
}

export function listFiles(dir: string, predicate: (file: string) => boolean): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      found.push(...listFiles(full, predicate));
    } else if (predicate(full)) {
      found.push(full);
    }
  }
  return found.sort();
}

export function isApexSource(file: string): boolean {
  return file.endsWith('.cls') || file.endsWith('.trigger');
}
