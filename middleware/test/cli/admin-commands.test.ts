import { engines } from '../support/test-databases';
import { startSandbox, testSecrets, type Sandbox } from '../support/sandbox-harness';
import { readyApp, isOptedOut } from '../support/sandbox-queries';
import { waitFor } from '../support/wait-for';
import { runCli } from './run-cli';

describe.each(engines)('optout-sync admin commands against a running middleware on %s', (engine) => {
  let sandbox: Sandbox;
  let list: { id: string };
  let admin: string[];

  beforeAll(async () => {
    sandbox = await startSandbox(engine);
    list = sandbox.ac.createList('News');
    await sandbox.startApp();
    await readyApp(sandbox);
    admin = ['--url', sandbox.app!.url, '--token', testSecrets.adminToken];
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  test('when Salesforce refuses a pull job\'s record for good, then dead-letters list shows it and retry sends it back until it succeeds', async () => {
    const email = `dead-${engine}@example.com`;
    sandbox.ac.createContact(email, { lists: { [list.id]: 1 } });
    const contactId = String(sandbox.sf.insert('Contact', { LastName: 'Dead', Email: email, HasOptedOutOfEmail: false }).Id);
    await sandbox.app!.pollNow();
    sandbox.sf.failNextWrites(contactId, 'FIELD_CUSTOM_VALIDATION_EXCEPTION', 1);
    sandbox.ac.unsubscribe(email, 'all');
    const [letter] = await waitFor(async () => {
      const letters = await sandbox.app!.store.jobs.listDeadLetters();
      return letters.length > 0 ? letters : null;
    }, { what: 'a dead letter' });

    const listed = await runCli(['dead-letters', 'list', ...admin]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`^${letter!.id} +pull-email +${email} +1 +`, 'm'));

    const retried = await runCli(['dead-letters', 'retry', letter!.id, ...admin]);
    expect(retried.stdout).toContain(`Dead letter ${letter!.id} is back in the queue`);
    expect(retried.code).toBe(0);
    await waitFor(() => isOptedOut(sandbox, 'Contact', contactId), { what: 'the retried job applied' });

    const again = await runCli(['dead-letters', 'retry', letter!.id, ...admin]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already retried');
  });

  test('when the token is wrong, then the command says so and exits 1', async () => {
    const result = await runCli(['dead-letters', 'list', '--url', sandbox.app!.url, '--token', 'not-the-admin-token']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('refused the token (401)');
  });

  test('when reconcile is asked for, then the middleware accepts it', async () => {
    const result = await runCli(['reconcile'], { env: { ADMIN_TOKEN: testSecrets.adminToken, OPTOUT_SYNC_URL: sandbox.app!.url } });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Reconcile started');
  });

  test('when a full reconciliation is asked for as a dry run, then the report shows the drift and nothing changes', async () => {
    const email = `reconcile-dry-${engine}@example.com`;
    sandbox.ac.createContact(email, { lists: { [list.id]: 1 } });
    // Written by the integration user: the stream drops it as the product's own echo (R6), so the opt-out never
    // reaches AC by the live path: drift only a reconciliation finds.
    sandbox.sf.insert('Contact', { LastName: 'Dry', Email: email, HasOptedOutOfEmail: true });
    const result = await runCli(['reconcile', '--full', '--dry-run', ...admin]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Drift Salesforce -> AC \(R1 not applied\) +[1-9]/);
    expect(result.stdout).toContain(email);
    expect(result.stdout).toContain('Dry run: nothing was changed.');
    expect(sandbox.ac.contactByEmail(email)?.lists[list.id]).toBe(1);
    const wrong = await runCli(['reconcile', '--dry-run', ...admin]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('--dry-run goes with --full');
  });

  test('when backfill sf-to-ac is applied, then the running workers unsubscribe the old opt-outs in ActiveCampaign', async () => {
    // Through the running middleware's own admin API (bearer token, then POST /admin/backfill).
    const url = sandbox.app!.url;

    const email = `old-optout-${engine}@example.com`;
    sandbox.ac.createContact(email, { lists: { [list.id]: 1 } });
    // Written by the integration user: the stream drops it as the product's own echo (R6), so this opt-out reaches
    // ActiveCampaign only through the backfill, like data that predates the installation.
    sandbox.sf.insert('Contact', { LastName: 'Old', Email: email, HasOptedOutOfEmail: true });
    const c = sandbox.config;
    const env = {
      SF_LOGIN_URL: c.salesforce.loginUrl,
      SF_CLIENT_ID: c.salesforce.auth.clientId,
      SF_CLIENT_SECRET: sandbox.sf.clientSecret,
      SF_API_VERSION: c.salesforce.apiVersion,
      AC_API_URL: c.activecampaign.apiUrl,
      AC_API_TOKEN: c.activecampaign.apiToken,
      ADMIN_TOKEN: testSecrets.adminToken,
      WEBHOOK_SECRET: testSecrets.webhookSecret,
    };
    const result = await runCli(['backfill', '--direction', 'sf-to-ac', '--url', url], { env });
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/Queued \d+ email\(s\)/);
    expect(result.stdout).toContain(email);
    expect(result.code).toBe(0);
    await waitFor(() => Number(sandbox.ac.contactByEmail(email)?.lists[list.id]) === 2, { what: 'the backfilled opt-out applied' });
    // The job's audit entries commit just after its last list update.
    const history = await waitFor(async () => {
      const entries = await sandbox.app!.store.audit.historyForEmail(email);
      return entries.some((h) => h.decision === 'unsubscribe-list') ? entries : undefined;
    }, { what: 'the audit of the backfilled opt-out' });
    expect(history.map((h) => h.decision)).toEqual(expect.arrayContaining(['backfill-queued', 'unsubscribe-list']));
  });
});
