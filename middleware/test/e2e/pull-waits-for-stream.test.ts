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
    await waitFor(async () => (await sandbox.app!.store.audit.historyForEmail('lagging@example.com')).some((a) => a.reason.startsWith('R5 refused')), { what: 'R5 refused' });
    expect(isOptedOut(sandbox, 'Contact', contact)).toBe(true);
  });
});
