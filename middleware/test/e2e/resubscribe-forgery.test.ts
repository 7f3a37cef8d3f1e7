// R5's subscribe source comes from a delivery nobody signs: anyone with the webhook URL's secret can send
// `initiated_from=public`, and may do so at any time. A subscribe AC holds without a delivery that said who made it
// (an import through the API fires none, a delivery was lost, an admin's re-add whose own delivery went missing)
// waits in the snapshot for good. A forged or replayed delivery days later must not be taken as that subscribe's
// own: AC sends a delivery when the change happens, so one received long after the list's subscribe date (sdate)
// is about something else.
import { engines } from '../support/test-databases';
import { startSandbox, testSecrets, type Sandbox } from '../support/sandbox-harness';
import { readyApp, isOptedOut } from '../support/sandbox-queries';
import { waitFor } from '../support/wait-for';

const DAY_MS = 24 * 3600_000;

describe.each(engines)('a subscribe source forged long after the subscribe on %s', (engine) => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox(engine);
    await sandbox.startApp();
    await readyApp(sandbox);
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  async function idle(): Promise<void> {
    await waitFor(async () => (await sandbox.app!.store.webhookInbox.pending(10)).length === 0 && (await sandbox.app!.store.jobs.counts()).every((c) => c.n === 0 || c.state === 'dead'), { what: 'deliveries processed and queue idle' });
  }

  async function deliver(fields: Record<string, string>): Promise<void> {
    const body = new URLSearchParams({ initiated_by: 'contact', date_time: new Date().toISOString(), ...fields }).toString();
    const res = await fetch(`${sandbox.app!.url}/webhooks/activecampaign/${testSecrets.webhookSecret}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    expect(res.status).toBe(200);
  }

  test('when a public delivery arrives two days after an admin re-add whose delivery was lost, then the opt-out stays', async () => {
    const { sf, ac } = sandbox;
    const email = 'forged-later@example.com';
    // Three days ago the person unsubscribed from everything; R3 opted the Contact out, dated by AC.
    sandbox.acClock.offsetMs = -3 * DAY_MS;
    const list = ac.createList('Old list');
    const contact = ac.createContact(email, { lists: { [list.id]: 1 } });
    const id = String(sf.insert('Contact', { LastName: 'Person', Email: email, HasOptedOutOfEmail: false }).Id);
    await sandbox.app!.pollNow();
    ac.unsubscribe(email, 'all');
    await waitFor(() => isOptedOut(sandbox, 'Contact', id), { what: 'R3' });
    await idle();
    // Two days ago an AC admin re-added the person; that delivery never reached us.
    sandbox.acClock.offsetMs = -2 * DAY_MS;
    ac.configure({ webhookDropShare: 1 });
    ac.subscribe(email, list.id, { source: 'admin' });
    ac.configure({ webhookDropShare: 0 });
    sandbox.acClock.offsetMs = 0;
    // Today someone with the secret relabels it as the person's own.
    await deliver({ type: 'subscribe', initiated_from: 'public', 'contact[id]': String(contact.id), 'contact[email]': email, list: list.id });
    await idle();
    expect(isOptedOut(sandbox, 'Contact', id)).toBe(true);
    const reasons = (await sandbox.app!.store.audit.historyForEmail(email)).map((h) => h.reason);
    expect(reasons.some((r) => r.startsWith('R5 waits'))).toBe(true);
  }, 60_000);
});
