// R5 counts the person's own re-subscribe (R5_Subscribe_Sources__c, default public). A subscribe that does not count
// (an AC admin re-adding the person, an import, an automation) still leaves the contact active on that list in AC,
// so the person's own subscribe through a form afterwards is no longer a move from zero active lists: it must still
// count, or the person who asked for mail stays opted out in Salesforce for good.
import { engines } from '../support/test-databases';
import { startSandbox, type Sandbox } from '../support/sandbox-harness';
import { readyApp, isOptedOut } from '../support/sandbox-queries';
import { waitFor } from '../support/wait-for';

describe.each(engines)('the person\'s own subscribe after one that did not count on %s', (engine) => {
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

  async function audited(email: string, result: string) {
    return waitFor(async () => {
      const entries = (await sandbox.app!.store.audit.historyForEmail(email)).filter((h) => h.result === result);
      return entries.length > 0 ? entries : undefined;
    }, { what: `an audit "${result}" for ${email}` });
  }

  // Fails today (test.failing records it): R5 is detected only as zero -> some active lists (ac-transitions.ts), so
  // after an uncounted subscribe nothing the person does short of leaving every list counts. Fixing it changes the
  // rule, and the reference model (test/model/reference-model.ts, R5 on `activeListCount(before) === 0`) with it:
  // a product change alone makes the system model diverge. Left for a decision on what R5 means here.
  test.failing('when an admin re-adds the person (not counted) and the person then subscribes to another list through a form, then the opt-out is unchecked', async () => {
    const { sf, ac } = sandbox;
    const email = 'readded-then-form@example.com';
    const list = ac.createList('Customers');
    ac.createContact(email, { lists: { [list.id]: 1 } });
    const id = String(sf.insert('Contact', { LastName: 'Person', Email: email, HasOptedOutOfEmail: false }).Id);
    await sandbox.app!.pollNow();
    ac.unsubscribe(email, 'all');
    await waitFor(() => isOptedOut(sandbox, 'Contact', id), { what: 'R3' });
    await idle();
    ac.subscribe(email, list.id, { source: 'admin' });
    await audited(email, 'not counted');
    await idle();
    expect(isOptedOut(sandbox, 'Contact', id)).toBe(true);
    const newsletter = ac.createList('Newsletter');
    ac.subscribe(email, newsletter.id, { source: 'public' });
    await waitFor(() => !isOptedOut(sandbox, 'Contact', id), { what: 'R5 from the person\'s own subscribe', timeoutMs: 5000 });
  }, 60_000);

  test('when a list the admin re-added is left and joined again by an admin, then nothing changes', async () => {
    const { sf, ac } = sandbox;
    const email = 'readded-twice@example.com';
    const list = ac.createList('Partners');
    const other = ac.createList('Partners 2');
    ac.createContact(email, { lists: { [list.id]: 1 } });
    const id = String(sf.insert('Contact', { LastName: 'Person', Email: email, HasOptedOutOfEmail: false }).Id);
    await sandbox.app!.pollNow();
    ac.unsubscribe(email, 'all');
    await waitFor(() => isOptedOut(sandbox, 'Contact', id), { what: 'R3' });
    await idle();
    ac.subscribe(email, list.id, { source: 'admin' });
    await idle();
    ac.subscribe(email, other.id, { source: 'system' });
    await idle();
    expect(isOptedOut(sandbox, 'Contact', id)).toBe(true);
  }, 60_000);
});
