import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from './run-cli';

describe('optout-sync sandbox', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'optout-cli-sandbox-'));
  });
  afterAll(() => {
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('when run with --exit-after-demo, then it walks through the whole round trip and exits 0', async () => {
    const result = await runCli(['sandbox', '--exit-after-demo', '--sf-port', '0', '--pubsub-port', '0', '--ac-port', '0', '--port', '0', '--data-dir', dataDir], { timeoutMs: 50_000 });
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    const out = result.stdout;
    // Step 1: every AC list of the Salesforce opt-out at status 2.
    expect(out).toMatch(/Step 1 done in [\d.]+ s: ada\.lovelace@example\.com is unsubscribed \(status 2\) from every ActiveCampaign list/);
    expect(out.match(/AC after {4}list "[^"]+": status 2 \(unsubscribed\)/g)).toHaveLength(3);
    // Step 2: the Contact and the Lead sharing the email are both opted out.
    expect(out).toMatch(/Salesforce {2}Contact 003\w+ {2}Email Opt Out = true, source "ActiveCampaign Unsubscribe"/);
    expect(out).toMatch(/Salesforce {2}Lead {4}00Q\w+ {2}Email Opt Out = true, source "ActiveCampaign Unsubscribe"/);
    expect(out).toContain('Step 2 done');
    // Step 3: opted out and flagged as a hard bounce.
    expect(out).toMatch(/Email Opt Out = true, source "ActiveCampaign Bounce", AC_Hard_Bounced__c = true/);
    expect(out).toContain('Step 3 done');
    // Where to look, and the audit history read through the admin API.
    expect(out).toMatch(/http:\/\/127\.0\.0\.1:\d+\/healthz/);
    expect(out).toMatch(/\/admin\/status/);
    expect(out).toMatch(/sf_to_ac +unsubscribe-list/);
    // The middleware's logs went to the data directory, not the terminal.
    expect(out).not.toContain('"level"');
    expect(fs.readFileSync(path.join(dataDir, 'middleware.log'), 'utf8')).toContain('optout-sync started');
  }, 60_000);
});
