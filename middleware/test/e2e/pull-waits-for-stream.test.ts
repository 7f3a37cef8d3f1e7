// The pull path decides R3/R5 by comparing the person's AC action with when the Salesforce opt-out changed. It
// reads Salesforce before the stream has necessarily delivered every change: found by the chaos run, a re-subscribe
// older than a Salesforce opt-out the stream had not delivered yet was compared with the record's previous opt-in
// and unchecked Email Opt Out over the person's newer opt-out (sync/opt-out-recency.ts).
import { engines } from '../support/test-databases';
import { startSandbox, type Sandbox } from '../support/sandbox-harness';
import { patchRecord } from '../support/salesforce-user';
import { isOptedOut, readyApp } from '../support/sandbox-queries';
import { waitFor } from '../support/wait-for';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(engines)('the pull path and a lagging stream on %s', (engine) => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox(engine, { persistent: true });
    await sandbox.startApp();
    await readyApp(sandbox);
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  test('when a re-subscribe is older than a Salesforce opt-out the stream has not delivered yet, then the opt-out stays and AC is unsubscribed again', async () => {
    const news = sandbox.ac.createList('News');
    sandbox.ac.createContact('lagging@example.com', { lists: { [news.id]: 1 } });
    const contact = String(sandbox.sf.insert('Contact', { LastName: 'Person', Email: 'lagging@example.com', HasOptedOutOfEmail: false }).Id);
    await sandbox.app!.pollNow();
    sandbox.ac.unsubscribe('lagging@example.com', 'all');
    await waitFor(() => isOptedOut(sandbox, 'Contact', contact), { what: 'R3 opted the record out' });
    // Each step in a later second: Salesforce and AC stamp whole seconds.
    await sleep(1100);
    await patchRecord(sandbox.sf, 'Contact', contact, { HasOptedOutOfEmail: false });
    await waitFor(async () => (await sandbox.app!.store.links.lastObserved([contact])).get(contact)?.optedOut === false, { what: 'opt-in seen on the stream' });
    await sandbox.stopApp();
    await sleep(1100);
    sandbox.ac.subscribe('lagging@example.com', news.id);
    await sleep(1100);
    await patchRecord(sandbox.sf, 'Contact', contact, { HasOptedOutOfEmail: true });
    // Back up: the poll queues the re-subscribe at once, the stream delivers the opt-out seconds later (its first
    // handshake is refused as too busy).
    sandbox.sf.injectBusy(1);
    await sandbox.startApp({ busyBackoffMs: 4000 });

    await waitFor(() => sandbox.ac.contactByEmail('lagging@example.com')!.lists[news.id] === 2, { what: 'R1 unsubscribed the list again', timeoutMs: 30_000 });
    await waitFor(async () => (await sandbox.app!.store.jobs.counts()).every((c) => c.n === 0 || c.state === 'dead'), { what: 'every job done' });
    expect(isOptedOut(sandbox, 'Contact', contact)).toBe(true);
    // The waiting R5 job ends either refused (it ran after the stream delivered the opt-out) or as R3 "already holds
    // it" (the webhook of R1's unsubscribe merged into it first, as a later AC state): never as a written opt-in.
    const history = await sandbox.app!.store.audit.historyForEmail('lagging@example.com');
    expect(history.filter((a) => a.direction === 'ac_to_sf' && a.newValue === 'false' && a.result === 'written')).toEqual([]);
    expect(history.some((a) => a.reason.startsWith('R5 refused') || a.reason.startsWith('R3: unsubscribed from all ActiveCampaign lists: the record already holds it'))).toBe(true);
  });

  test('when the person opts in and out again in Salesforce between the pull path\'s read and its opt-in write, then the write is refused and the opt-out stays', async () => {
    const offers = sandbox.ac.createList('Offers');
    sandbox.ac.createContact('between@example.com', { lists: { [offers.id]: 1 } });
    const contact = String(sandbox.sf.insert('Contact', { LastName: 'Person', Email: 'between@example.com', HasOptedOutOfEmail: false }).Id);
    await sandbox.app!.pollNow();
    sandbox.ac.unsubscribe('between@example.com', 'all');
    await waitFor(() => isOptedOut(sandbox, 'Contact', contact), { what: 'R3 opted the record out' });
    await sleep(1100);
    // R5 reads the opted-out record and decides to uncheck it; before its write arrives, the person (in a later
    // second than the subscribe) opts in and out again: Salesforce now holds an opt-out newer than the subscribe.
    // The write is refused (412); deciding again, the newer opt-out wins (R1 unsubscribes the list, whose echo ends
    // the pull job as R3 "already holds it").
    sandbox.sf.beforeNextRequest(
      (r) => r.method === 'PATCH' && r.path.includes(`/sobjects/Contact/${contact.slice(0, 15)}`),
      async () => {
        await sleep(1100);
        sandbox.sf.update('Contact', contact, { HasOptedOutOfEmail: false }, { asUserId: sandbox.sf.users.admin.id });
        sandbox.sf.update('Contact', contact, { HasOptedOutOfEmail: true }, { asUserId: sandbox.sf.users.admin.id });
      },
    );
    sandbox.ac.subscribe('between@example.com', offers.id);

    await waitFor(() => sandbox.ac.contactByEmail('between@example.com')!.lists[offers.id] === 2, { what: 'R1 unsubscribed the list joined before the newer opt-out', timeoutMs: 30_000 });
    await waitFor(async () => (await sandbox.app!.store.jobs.counts()).every((c) => c.n === 0 || c.state === 'dead'), { what: 'every job done' });
    expect(sandbox.sf.requestLog.some((r) => r.method === 'PATCH' && r.path.includes(`/sobjects/Contact/${contact.slice(0, 15)}`) && r.status === 412)).toBe(true);
    expect(isOptedOut(sandbox, 'Contact', contact)).toBe(true);
    const history = await sandbox.app!.store.audit.historyForEmail('between@example.com');
    expect(history.some((a) => a.reason.startsWith('R5') && a.result.startsWith('failed: MODIFIED_SINCE_READ'))).toBe(true);
  });
});
