// Bursts cost few API calls: Salesforce writes go out in full Collections calls while a burst is still arriving,
// and webhook deliveries that arrive together are confirmed with one ActiveCampaign read. Both lingers run with
// their production values, so that what these tests prove is what runs.
import { engines } from '../support/test-databases';
import { startSandbox, type Sandbox } from '../support/sandbox-harness';
import { salesforceWriteCalls, isOptedOut, readyApp } from '../support/sandbox-queries';
import { waitFor } from '../support/wait-for';
import { defaultTiming } from '../../src/app/create-app';

describe.each(engines)('bursts on %s', (engine) => {
  let sandbox: Sandbox;
  let news: { id: string };
  let offers: { id: string };

  beforeAll(async () => {
    sandbox = await startSandbox(engine);
    news = sandbox.ac.createList('News');
    offers = sandbox.ac.createList('Offers');
    await sandbox.startApp({ pullLingerMs: defaultTiming.pullLingerMs, webhookLingerMs: defaultTiming.webhookLingerMs });
    await readyApp(sandbox);
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  function people(prefix: string, count: number): { email: string; contactId: string }[] {
    return Array.from({ length: count }, (_, i) => {
      const email = `${prefix}${i}@example.com`;
      sandbox.ac.createContact(email, { lists: { [news.id]: 1, [offers.id]: 1 } });
      return { email, contactId: String(sandbox.sf.insert('Contact', { LastName: `P${i}`, Email: email, HasOptedOutOfEmail: false }).Id) };
    });
  }

  test('when 450 people unsubscribe from all lists at once, then Salesforce is written in 3 Collections calls', async () => {
    const crowd = people('burst', 450);
    await sandbox.app!.pollNow();
    const writesBefore = salesforceWriteCalls(sandbox);
    for (const person of crowd) sandbox.ac.unsubscribe(person.email, 'all');
    await waitFor(() => crowd.every((p) => isOptedOut(sandbox, 'Contact', p.contactId)), { what: 'every record opted out', timeoutMs: 60_000 });
    // 200 + 200 + 50: the remainder waited for the burst to end instead of going out in pieces as jobs arrived. A
    // loaded machine may pause the arriving deliveries for longer than the linger once (a CI run saw 4 calls); without
    // the linger the jobs go out in pieces as they arrive (6 calls on a quiet machine).
    const calls = salesforceWriteCalls(sandbox) - writesBefore;
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(calls).toBeLessThanOrEqual(4);
  });

  test('when five people unsubscribe within a moment, then one or two ActiveCampaign reads confirm all their deliveries, not one per person', async () => {
    const few = people('few', 5);
    await sandbox.app!.pollNow();
    // The previous test's 450 deliveries may still be confirmed (100 contacts a read) on a loaded machine.
    await sandbox.ac.webhooksIdle();
    await waitFor(async () => (await sandbox.app!.store.webhookInbox.pending(10)).length === 0, { what: 'earlier deliveries processed' });
    const readsBefore = contactReadsByIds(sandbox);
    for (const person of few) sandbox.ac.unsubscribe(person.email, 'all');
    await sandbox.ac.webhooksIdle();
    await waitFor(async () => (await sandbox.app!.store.webhookInbox.pending(10)).length === 0, { what: 'deliveries processed' });
    await waitFor(() => few.every((p) => isOptedOut(sandbox, 'Contact', p.contactId)), { what: 'every record opted out' });
    // One read when the deliveries land within the linger; a loaded machine may spread them over two lingers. One
    // read per person (5) is what the linger prevents.
    expect(contactReadsByIds(sandbox) - readsBefore).toBeLessThanOrEqual(2);
  });
});

/** GET /contacts?ids[]=…: the webhook processor's confirming read. */
function contactReadsByIds(sandbox: Sandbox): number {
  return sandbox.ac.requestLog.filter((r) => r.method === 'GET' && r.path === '/api/3/contacts' && decodeURIComponent(r.url).includes('ids[]')).length;
}
