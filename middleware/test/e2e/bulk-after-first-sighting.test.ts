// A contact the middleware first reads after the Salesforce opt-out (an installation's baseline poll, a reconciliation
// after an outage) was on its lists long before: AC dates each subscribe (sdate), and the single path would unsubscribe
// those lists too. Such a backlog goes out as bulk imports. Found by bench:reconcile: 500 drifted opt-outs all took
// the single path (3 requests a person) because a first sighting counted as a join of unknown date, and the fixes
// took 608 s against a 200 s ceiling.
import { startSandbox, type Sandbox } from '../support/sandbox-harness';
import { readyApp } from '../support/sandbox-queries';
import { queuesEmpty } from '../support/bulk-backlog';
import { waitFor } from '../support/wait-for';

describe('a reconciled backlog of contacts first read after their opt-out (pglite)', () => {
  let sandbox: Sandbox;
  afterAll(async () => {
    await sandbox?.close();
  });

  test('when AC dates their lists before the opt-out, then the backlog goes out as an import, not one request per list', async () => {
    sandbox = await startSandbox('pglite', { env: { RECONCILE_CRON: 'off', AC_BULK_THRESHOLD: '1' } });
    const { ac, sf } = sandbox;
    const news = ac.createList('News');
    const people = ['first.a@example.com', 'first.b@example.com', 'first.c@example.com'];
    // Subscribed an hour ago in AC; opted out in Salesforce now, before the middleware ever ran (no event to see).
    sandbox.acClock.offsetMs = -3600_000;
    for (const email of people) ac.createContact(email, { lists: { [news.id]: 1 } });
    sandbox.acClock.offsetMs = 0;
    for (const [i, email] of people.entries()) sf.insert('Contact', { LastName: `First${i}`, Email: email, HasOptedOutOfEmail: true });
    // The baseline poll reads them a little later: their first sighting comes after the opt-out.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await sandbox.startApp({ sfBulkQueryPollMs: 20 });
    await readyApp(sandbox);
    await waitFor(async () => (await sandbox.app!.store.snapshots.findByEmails(people)).size === people.length, { what: 'the baseline poll has read them' });
    const report = await sandbox.app!.fullReconciler.run({ dryRun: false });
    expect(report.drift.sfToAc).toBe(people.length);
    await waitFor(() => people.every((email) => Number(ac.contactByEmail(email)?.lists[news.id]) === 2), { what: 'all unsubscribed', timeoutMs: 30_000 });
    await queuesEmpty(sandbox);
    expect(ac.requestLog.filter((r) => r.method === 'POST' && r.path.startsWith('/api/3/import/bulk_import') && r.status === 200).length).toBeGreaterThan(0);
    expect(ac.requestLog.filter((r) => r.method === 'POST' && r.path.startsWith('/api/3/contactLists'))).toEqual([]);
  }, 90_000);
});
