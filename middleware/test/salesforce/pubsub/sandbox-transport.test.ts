import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../../cli/run-cli';

describe('optout-sync sandbox --transport', () => {
  const dirs: string[] = [];
  const dataDir = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'optout-cli-transport-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  test.each([
    ['pubsub', /streaming Salesforce changes over Pub\/Sub API/, 'the middleware subscribes here'],
    ['cometd', /streaming Salesforce changes over CometD/, 'not used: --transport cometd'],
  ])('--transport %s prints the Pub/Sub API endpoint on a line of its own and completes the round trip on that transport', async (transport, over, usage) => {
    const args = ['sandbox', '--exit-after-demo', '--transport', transport, '--sf-port', '0', '--pubsub-port', '0', '--ac-port', '0', '--port', '0', '--data-dir', dataDir()];
    const result = await runCli(args, { timeoutMs: 80_000 });
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    const line = result.stdout.split('\n').find((l) => l.includes('Pub/Sub API') && l.includes('gRPC'));
    expect(line).toMatch(/127\.0\.0\.1:\d+/);
    expect(line).toContain(usage);
    expect(result.stdout).toMatch(over);
    expect(result.stdout).toContain('Step 3 done');
  }, 90_000);
});
