// `optout-sync sandbox --scenario <name>`: the demo org with a real-org problem, and what the product says about it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from './run-cli';

describe('optout-sync sandbox --scenario', () => {
  const sandboxArgs = (dataDir: string) => ['sandbox', '--exit-after-demo', '--sf-port', '0', '--pubsub-port', '0', '--ac-port', '0', '--port', '0', '--data-dir', dataDir];
  let dataDir: string;
  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'optout-cli-scenario-'));
  });
  afterEach(() => {
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('when the opt-out field is hidden from the integration user, then the sandbox shows the finding naming object, field and permission', async () => {
    const result = await runCli([...sandboxArgs(dataDir), '--scenario', 'hidden-field'], { timeoutMs: 50_000 });
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(result.stdout).toContain('scenario                 hidden-field: field-level security hides Contact.HasOptedOutOfEmail');
    expect(result.stdout).toMatch(/The middleware reports .*Contact\.HasOptedOutOfEmail lacks Field-level security: Read/);
  }, 60_000);

  test('when a validation rule refuses the Lead, then the sandbox shows the Contact written and the Lead dead-lettered alone', async () => {
    const result = await runCli([...sandboxArgs(dataDir), '--scenario', 'validation-rule'], { timeoutMs: 50_000 });
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/audit {2}003\w+ {2}update-salesforce: .*\[written\]/);
    expect(result.stdout).toMatch(/audit {2}00Q\w+ {2}dead-letter: .*\[FIELD_CUSTOM_VALIDATION_EXCEPTION: Opt-out changes on Leads need a reason/);
    expect(result.stdout).toMatch(/dead letter \d+: permanent: 00Q\w+: FIELD_CUSTOM_VALIDATION_EXCEPTION/);
  }, 60_000);

  test('when the Lead was converted, then the sandbox shows it skipped and nothing dead-lettered', async () => {
    const result = await runCli([...sandboxArgs(dataDir), '--scenario', 'converted-lead'], { timeoutMs: 50_000 });
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/audit {2}00Q\w+ {2}skip: .*converted.*\[skipped: converted lead\]/);
    expect(result.stdout).not.toContain('dead letter');
  }, 60_000);

  test('when the scenario is unknown, then the command refuses it and names the choices', async () => {
    const result = await runCli([...sandboxArgs(dataDir), '--scenario', 'no-such-thing'], { timeoutMs: 20_000 });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/hidden-field.*validation-rule.*converted-lead/);
  }, 30_000);
});
