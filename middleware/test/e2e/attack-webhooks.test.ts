// Outside review of issue 16, the hostile sender: someone who knows the webhook URL and its secret (visible to anyone
// who can list the account's webhooks) posts what they like. A delivery is a doorbell; nothing a sender puts in one
// may stop the doorbells of real deliveries from being answered.
import { startSandbox, testSecrets, type Sandbox } from '../support/sandbox-harness';
import { readyApp, isOptedOut } from '../support/sandbox-queries';
import { waitFor } from '../support/wait-for';

describe('a hostile webhook sender (pglite)', () => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox('pglite');
    await sandbox.startApp();
    await readyApp(sandbox);
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  async function deliver(fields: Record<string, string>): Promise<number> {
    const body = new URLSearchParams({ initiated_from: 'public', initiated_by: 'contact', ...fields }).toString();
    const res = await fetch(`${sandbox.app!.url}/webhooks/activecampaign/${testSecrets.webhookSecret}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    return res.status;
  }

  test('when a forged delivery names a contact id of thousands of digits, then real deliveries after it are still answered', async () => {
    const { sf, ac } = sandbox;
    const list = ac.createList('Poison');
    ac.createContact('poisoned@example.com', { lists: { [list.id]: 1 } });
    const id = String(sf.insert('Contact', { LastName: 'Poisoned', Email: 'poisoned@example.com', HasOptedOutOfEmail: false }).Id);
    await sandbox.app!.pollNow();
    // Fits the 64 kB body limit; no AC contact id is anywhere near this long, and a read naming it cannot succeed.
    await deliver({ type: 'subscribe', date_time: new Date().toISOString(), 'contact[id]': '9'.repeat(20_000), 'contact[email]': 'nobody@example.com', list: list.id });
    ac.unsubscribe('poisoned@example.com', 'all');
    await waitFor(() => isOptedOut(sandbox, 'Contact', id), { what: 'R3 from the real unsubscribe webhook', timeoutMs: 20_000 });
  }, 60_000);
});
