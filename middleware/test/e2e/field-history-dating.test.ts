// Issue 16 item 3: where the org tracks the opt-out field's history, ContactHistory/LeadHistory date a change the
// stream did not show. Without it, an opt-out made before the middleware watched is dated by the record's
// LastModifiedDate (the latest bound: in doubt the opt-out wins), so any later edit of the record makes a person's
// real re-subscribe look older than the opt-out.
import { engines } from '../support/test-databases';
import { startSandbox, type Sandbox } from '../support/sandbox-harness';
import { readyApp, isOptedOut } from '../support/sandbox-queries';
import { waitFor } from '../support/wait-for';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(engines)('opt-out times from field history on %s', (engine) => {
  let sandbox: Sandbox | null = null;
  afterEach(async () => {
    await sandbox?.close();
    sandbox = null;
  });

  /**
   * An opt-out made before the middleware started (the stream never showed it), the person's subscribe in AC a
   * moment after it, and an unrelated edit of the record after both: the subscribe is newer than the opt-out.
   */
  async function subscribeBetweenOptOutAndEdit(tracked: boolean): Promise<{ id: string; sandbox: Sandbox }> {
    const s = await startSandbox(engine, { sf: tracked ? { fieldHistory: { Contact: ['HasOptedOutOfEmail'] } } : {} });
    sandbox = s;
    const email = `history-${tracked ? 'tracked' : 'untracked'}@example.com`;
    const list = s.ac.createList('Newsletter');
    s.ac.createContact(email, { lists: { [list.id]: 2 } });
    const id = String(s.sf.insert('Contact', { LastName: 'History', Email: email, HasOptedOutOfEmail: false }).Id);
    s.sf.update('Contact', id, { HasOptedOutOfEmail: true });
    const optedOutAt = Date.now();
    await sleep(3200);
    s.sf.update('Contact', id, { LastName: 'Renamed later' });
    await s.startApp();
    await readyApp(s);
    await s.app!.pollNow();
    // The person subscribes again through a form; AC dates it 1.5 s after the opt-out (its own clock).
    s.acClock.offsetMs = optedOutAt + 1500 - Date.now();
    s.ac.subscribe(email, list.id, { source: 'public' });
    await waitFor(async () => (await s.app!.store.audit.historyForEmail(email)).some((h) => h.reason.startsWith('R5')) && (await s.app!.store.jobs.counts()).every((c) => c.n === 0 || c.state === 'dead'), { what: 'R5 decided' });
    return { id, sandbox: s };
  }

  test('when the org tracks the opt-out field, then a re-subscribe made after the opt-out counts although the record was edited since', async () => {
    const { id, sandbox: s } = await subscribeBetweenOptOutAndEdit(true);
    await waitFor(() => !isOptedOut(s, 'Contact', id), { what: 'R5 applied: the history dates the opt-out before the subscribe' });
  }, 60_000);

  test('when the org does not track it, then the same re-subscribe is refused (the opt-out takes the latest bound)', async () => {
    const { id, sandbox: s } = await subscribeBetweenOptOutAndEdit(false);
    await sleep(300);
    expect(isOptedOut(s, 'Contact', id)).toBe(true);
    const reasons = (await s.app!.store.audit.historyForEmail('history-untracked@example.com')).map((h) => h.reason);
    expect(reasons.some((r) => r.includes('R5 refused'))).toBe(true);
  }, 60_000);
});
