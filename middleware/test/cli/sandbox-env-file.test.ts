// The first day: `optout-sync sandbox` leaves an env file for the sandbox it runs, prints how to use it, and every
// command it prints works as printed from another terminal (no ADMIN_TOKEN or URL in that terminal's environment:
// the admin commands find the middleware's URL and token in the file instead of defaulting to port 8080).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { emptyWorkDir, runCli } from './run-cli';
import { resolveAdminTarget } from '../../src/cli/admin-target';
import { waitFor } from '../support/wait-for';

const binPath = path.resolve(__dirname, '../../bin/optout-sync.js');

describe('admin target resolution', () => {
  test('when there is no env file and no flag, then the documented default is used', () => {
    expect(resolveAdminTarget({ envFile: path.join(emptyWorkDir(), '.env') })).toEqual({ url: 'http://127.0.0.1:8080', token: undefined });
  });

  test('when the env file names a port and a token, then they are used, a flag still wins, and 0.0.0.0 is reached on loopback', () => {
    const file = path.join(emptyWorkDir(), '.env');
    fs.writeFileSync(file, 'HTTP_HOST=0.0.0.0\nHTTP_PORT=9123\nADMIN_TOKEN=from-the-file-0123456789\n');
    expect(resolveAdminTarget({ envFile: file })).toEqual({ url: 'http://127.0.0.1:9123', token: 'from-the-file-0123456789' });
    expect(resolveAdminTarget({ envFile: file, url: 'http://10.0.0.5:8080/', token: 'flag' })).toEqual({ url: 'http://10.0.0.5:8080', token: 'flag' });
  });
});

describe('optout-sync sandbox env file', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'optout-sandbox-env-'));
  const output: string[] = [];
  let sandbox: ReturnType<typeof spawn> | null = null;

  afterAll(async () => {
    if (sandbox !== null && sandbox.exitCode === null) {
      const exited = new Promise((resolve) => sandbox!.on('exit', resolve));
      sandbox.kill('SIGINT');
      await exited;
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('when the sandbox runs, then the commands it prints work against it as printed', async () => {
    const child = spawn(process.execPath, [binPath, 'sandbox', '--sf-port', '0', '--pubsub-port', '0', '--ac-port', '0', '--port', '0', '--data-dir', dataDir], {
      cwd: emptyWorkDir(),
      env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    sandbox = child;
    child.stdout.on('data', (c: Buffer) => output.push(c.toString()));
    child.stderr.on('data', (c: Buffer) => output.push(c.toString()));
    await waitFor(() => output.join('').includes('Everything keeps running'), { timeoutMs: 60_000, intervalMs: 100, what: `the sandbox to finish its walk-through:\n${output.join('')}` });

    const text = output.join('');
    const envFile = path.join(dataDir, 'sandbox.env');
    expect(text).toContain(`This sandbox's settings are in ${envFile}.`);
    expect(fs.statSync(envFile).mode & 0o077).toBe(0);
    const printed = [...text.matchAll(/^ {2}npx optout-sync (.+)$/gm)].map((m) => m[1]!.split(' '));
    expect(printed.map((args) => args.slice(0, 2).join(' '))).toEqual(['check --env-file', 'dead-letters list', 'reconcile --env-file', 'backfill --direction']);

    const results = [];
    for (const args of printed) results.push({ args: args.join(' '), ...(await runCli(args, { timeoutMs: 60_000 })) });
    const [check, deadLetters, reconcile, backfill] = results;
    expect({ code: check!.code, stderr: check!.stderr }).toEqual({ code: 0, stderr: '' });
    expect(check!.stdout).toContain('All checks passed.');
    expect(check!.stdout).toMatch(/in use by the middleware at http:\/\/127\.0\.0\.1:\d+ \(not opened\)/);
    expect({ code: deadLetters!.code, stderr: deadLetters!.stderr }).toEqual({ code: 0, stderr: '' });
    expect(deadLetters!.stdout).toContain('No dead letters');
    expect({ code: reconcile!.code, stderr: reconcile!.stderr }).toEqual({ code: 0, stderr: '' });
    expect(reconcile!.stdout).toContain('Reconcile started');
    expect(backfill!.code).toBe(0);
    expect(backfill!.stdout).toMatch(/Dry run: \d+ email\(s\) would change; nothing was written\./);
  }, 180_000);
});
