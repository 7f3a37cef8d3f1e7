// Runs the CLI the way a user does: the bin shim in a child process, with a controlled environment (nothing of
// the test runner's environment leaks in, so a stray variable cannot make a test pass).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const binPath = path.resolve(__dirname, '../../bin/optout-sync.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** An empty working directory, so that no .env of the developer's is read. */
export function emptyWorkDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'optout-cli-'));
}

export function runCli(args: string[], options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [binPath, ...args], {
      cwd: options.cwd ?? emptyWorkDir(),
      env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir(), ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`optout-sync ${args.join(' ')} did not finish within ${options.timeoutMs ?? 30_000} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
