// The real Salesforce CLI against the emulator: what Salesforce people would use to explore the sandbox org.
// Each command runs in a child process with its own HOME (no auth files of the developer's are read or written)
// and telemetry and update checks off.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { startSalesforceEmulator, type SalesforceEmulator } from '../../../src/sandbox/salesforce';

// A devDependency of the repository (its package.json exports nothing to resolve).
const nodeModules = path.resolve(__dirname, '../../../../node_modules');
const cliRoot = path.join(nodeModules, '@salesforce', 'cli');
const binDir = path.join(nodeModules, '.bin');

jest.setTimeout(180_000);

describe('the sf CLI against the Salesforce emulator', () => {
  let sf: SalesforceEmulator;
  let home: string;

  beforeAll(async () => {
    sf = await startSalesforceEmulator();
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'sf-cli-home-'));
  });
  afterAll(async () => {
    await sf.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  function runSf(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number | null; json: unknown; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [path.join(cliRoot, 'bin', 'run.js'), ...args, '--json'], {
        cwd: home,
        env: {
          // The CLI starts helper processes by name: this install's bin first.
          PATH: `${binDir}${path.delimiter}${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`,
          HOME: home,
          SF_DISABLE_TELEMETRY: 'true',
          SF_AUTOUPDATE_DISABLE: 'true',
          SF_SKIP_NEW_VERSION_CHECK: 'true',
          SF_USE_GENERIC_UNIX_KEYCHAIN: 'true',
          ...extraEnv,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => {
        let json: unknown;
        try {
          json = JSON.parse(stdout) as unknown;
        } catch {
          json = stdout;
        }
        resolve({ code, json, stderr });
      });
    });
  }

  test('when a user logs in with an access token, queries and updates a record, then the CLI works as against a real org', async () => {
    const contact = String(sf.insert('Contact', { LastName: 'Cli', Email: 'cli@example.com' }).Id);
    const login = await runSf(['org', 'login', 'access-token', '--instance-url', sf.url, '--no-prompt', '--alias', 'sandbox'], { SF_ACCESS_TOKEN: sf.issueToken() });
    expect(login).toMatchObject({ code: 0, json: { status: 0, result: { username: sf.users.integration.username, orgId: sf.orgId } } });

    const query = await runSf(['data', 'query', '--query', "SELECT Id, Email, HasOptedOutOfEmail FROM Contact WHERE Email = 'cli@example.com'", '--target-org', 'sandbox']);
    expect(query.code).toBe(0);
    const rows = z.object({ result: z.object({ totalSize: z.number(), records: z.array(z.record(z.string(), z.unknown())) }) }).parse(query.json).result;
    expect(rows.totalSize).toBe(1);
    expect(rows.records[0]).toMatchObject({ Id: contact, Email: 'cli@example.com', HasOptedOutOfEmail: false });

    const update = await runSf(['data', 'update', 'record', '--sobject', 'Contact', '--record-id', contact, '--values', 'HasOptedOutOfEmail=true', '--target-org', 'sandbox']);
    expect(update).toMatchObject({ code: 0, json: { status: 0, result: { id: contact, success: true } } });
    expect(sf.get('Contact', contact)?.HasOptedOutOfEmail).toBe(true);
  });
});
