// R5's subscribe source comes from a delivery nobody signs: anyone with the webhook URL's secret can send
// `initiated_from=public`, and may do so at any time. A subscribe AC holds without a delivery that said who made it
// (an import through the API fires none, a delivery was lost, an admin's re-add whose own delivery went missing)
// waits in the snapshot for good. A forged or replayed delivery days later must not be taken as that subscribe's
// own: AC sends a delivery when the change happens, so one received long after the list's subscribe date (sdate)
// is about something else.
import { engines } from '../support/test-databases';
import type { Sandbox } from '../support/sandbox-harness';
import { deliverWebhook, deliveriesAndQueueIdle, readySandboxPerSuite } from '../support/sandbox-suite';
import { isOptedOut } from '../support/sandbox-queries';
import { waitFor } from '../support/wait-for';

const DAY_MS = 24 * 3600_000;

describe.each(engines)('a subscribe source forged long after the subscribe on %s', (engine) => {
  const current = readySandboxPerSuite(engine);
  let sandbox: Sandbox;
  beforeEach(() => {
    sandbox = current();
  });

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
    await deliveriesAndQueueIdle(sandbox);
    // Two days ago an AC admin re-added the person; that delivery never reached us.
    sandbox.acClock.offsetMs = -2 * DAY_MS;
    ac.configure({ webhookDropShare: 1 });
    ac.subscribe(email, list.id, { source: 'admin' });
    ac.configure({ webhookDropShare: 0 });
    sandbox.acClock.offsetMs = 0;
    // Today someone with the secret relabels it as the person's own.
    expect(await deliverWebhook(sandbox, { type: 'subscribe', initiated_from: 'public', 'contact[id]': String(contact.id), 'contact[email]': email, list: list.id })).toBe(200);
    await deliveriesAndQueueIdle(sandbox);
    expect(isOptedOut(sandbox, 'Contact', id)).toBe(true);
    const reasons = (await sandbox.app!.store.audit.historyForEmail(email)).map((h) => h.reason);
    expect(reasons.some((r) => r.startsWith('R5 waits'))).toBe(true);
  }, 60_000);
});
