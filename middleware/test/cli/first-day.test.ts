// What a new operator meets before reading any code: the version, a port that is taken or mistyped, each answered
// in one line that names what to change (never a Node stack trace).
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { emptyWorkDir, runCli } from './run-cli';

const rootManifest = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../package.json'), 'utf8')) as { version: string; license: string };

function occupyPort(): Promise<{ port: number; close: () => Promise<void> }> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({ port: typeof address === 'object' && address !== null ? address.port : 0, close: () => new Promise((done) => server.close(() => done())) });
    });
  });
}

const unreachableButValid = {
  SF_LOGIN_URL: 'http://127.0.0.1:1',
  SF_CLIENT_ID: 'client',
  SF_CLIENT_SECRET: 'sf-secret-that-must-never-be-printed',
  AC_API_URL: 'http://127.0.0.1:1',
  AC_API_TOKEN: 'ac-token-that-must-never-be-printed',
  ADMIN_TOKEN: 'admin-token-for-cli-tests-0123456789',
  WEBHOOK_SECRET: 'webhook-secret-for-cli-tests-0123456789',
};

const stackTraceLine = /^\s+at .+\(.+:\d+:\d+\)$/m;

describe('the first day', () => {
  test('when --version is asked, then it prints the package version and exits 0', async () => {
    const result = await runCli(['--version']);
    expect({ code: result.code, out: result.stdout.trim() }).toEqual({ code: 0, out: rootManifest.version });
    expect(rootManifest.license).toBe('Apache-2.0');
    expect(fs.readFileSync(path.resolve(__dirname, '../../../LICENSE'), 'utf8')).toContain('Apache License');
  });

  test('when HTTP_PORT is a word, then start says it is not a port number', async () => {
    const result = await runCli(['start'], { env: { ...unreachableButValid, HTTP_PORT: 'eighty' } });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^ {2}- HTTP_PORT: is not a port number/m);
    expect(result.stderr).not.toMatch(/HTTP_PORT: is required/);
  });

  test('when the middleware port is taken, then start exits 1 with one line naming HTTP_PORT and no stack trace', async () => {
    const taken = await occupyPort();
    try {
      const dir = emptyWorkDir();
      const result = await runCli(['start'], { env: { ...unreachableButValid, HTTP_PORT: String(taken.port), PGLITE_DATA_DIR: path.join(dir, 'pglite') }, cwd: dir });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`^optout-sync could not start: HTTP_PORT ${taken.port} is already in use on 127\\.0\\.0\\.1`, 'm'));
      expect(result.stderr).not.toMatch(stackTraceLine);
      expect(result.stderr).not.toContain('EADDRINUSE');
    } finally {
      await taken.close();
    }
  });

  test('when PostgreSQL cannot be reached, then start names the database and its host, never the password', async () => {
    const result = await runCli(['start'], { env: { ...unreachableButValid, DATABASE_URL: 'postgres://optout:pw-that-must-not-show@127.0.0.1:1/optout' } });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^optout-sync could not start: the database \(PostgreSQL at 127\.0\.0\.1:1\/optout\) cannot be reached: .*check DATABASE_URL/m);
    expect(result.stderr + result.stdout).not.toContain('pw-that-must-not-show');
    expect(result.stderr).not.toMatch(stackTraceLine);
  });

  test('when the sandbox middleware port is taken, then sandbox exits 1 with one line naming --port', async () => {
    const taken = await occupyPort();
    try {
      const result = await runCli(['sandbox', '--exit-after-demo', '--sf-port', '0', '--pubsub-port', '0', '--ac-port', '0', '--port', String(taken.port), '--data-dir', emptyWorkDir()], { timeoutMs: 50_000 });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`The middleware's port ${taken.port} is already in use on 127\\.0\\.0\\.1 .*--port`));
      expect(result.stderr).not.toMatch(stackTraceLine);
    } finally {
      await taken.close();
    }
  }, 60_000);
});
