// A bulk import goes out, then AC stops answering its status checks for longer than the round waits (an outage
// right after the submit). AC applied the import; the middleware never learned it. The jobs go again and their fresh
// read finds the lists already left, which is all the retry can say. Found by the Pub/Sub chaos run (26 list
// unsubscribes nobody audited after a 10-minute outage). The bulk path notes each contact's lists before sending
// (write-ahead, as the single path does per POST), so the retry records the lists it finds at 2 as ours, once.
import { readySandboxPerSuite } from '../support/sandbox-suite';
import { knownPeople, optOutAll, queuesEmpty } from '../support/bulk-backlog';
import { waitFor } from '../support/wait-for';

describe('a bulk import whose outcome never came back (pglite)', () => {
  const sandboxOf = readySandboxPerSuite('pglite', { env: { AC_BULK_THRESHOLD: '1' } }, { bulkMaxWaitMs: 2_000 });

  test('when AC stops answering status checks after an import went out, then each list the import left is audited once as unsubscribed by this product', async () => {
    const sandbox = sandboxOf();
    const { ac } = sandbox;
    const news = ac.createList('Unconfirmed');
    const people = ['unknown.a@example.com', 'unknown.b@example.com', 'unknown.c@example.com'];
    const ids = await knownPeople(sandbox, people, { [news.id]: 1 });
    ac.setFault({ status: 503, method: 'GET', pathPrefix: '/import/info', durationMs: 6_000 });
    await optOutAll(sandbox, ids);
    await waitFor(() => people.every((email) => Number(ac.contactByEmail(email)?.lists[news.id]) === 2), { what: 'all unsubscribed by the import', timeoutMs: 30_000 });
    await queuesEmpty(sandbox);
    for (const email of people) {
      const history = await sandbox.app!.store.audit.historyForEmail(email);
      const unsubscribes = history.filter((h) => h.decision === 'unsubscribe-list' && h.newValue === `list ${news.id}: 2`);
      expect(unsubscribes.map((h) => h.result)).toEqual(['unsubscribed']);
    }
  }, 90_000);

  test('when the status check of an applied import is refused, then the single path finds the lists left and records them once as made by this product', async () => {
    const sandbox = sandboxOf();
    const { ac } = sandbox;
    const news = ac.createList('Refused check');
    const people = ['refused.a@example.com', 'refused.b@example.com'];
    const ids = await knownPeople(sandbox, people, { [news.id]: 1 });
    // A 404 is permanent: the round gives its jobs to the single path, whose read finds the lists already at 2.
    ac.setFault({ status: 404, method: 'GET', pathPrefix: '/import/info', count: 1 });
    await optOutAll(sandbox, ids);
    await waitFor(() => people.every((email) => Number(ac.contactByEmail(email)?.lists[news.id]) === 2), { what: 'all unsubscribed by the import', timeoutMs: 30_000 });
    await queuesEmpty(sandbox);
    for (const email of people) {
      const history = await sandbox.app!.store.audit.historyForEmail(email);
      const unsubscribes = history.filter((h) => h.decision === 'unsubscribe-list' && h.newValue === `list ${news.id}: 2`);
      expect(unsubscribes.map((h) => [h.reason, h.result])).toEqual([['R1: Email Opt Out turned true', 'unsubscribed']]);
    }
  }, 90_000);

  test('when AC refuses an import and the person then leaves a list by themselves, then that list is not claimed as ours', async () => {
    const sandbox = sandboxOf();
    const { ac } = sandbox;
    const own = ac.createList('Left by the person');
    const other = ac.createList('Still on');
    const people = ['refusedimport.a@example.com', 'refusedimport.b@example.com'];
    const ids = await knownPeople(sandbox, people, { [own.id]: 1, [other.id]: 1 });
    // AC answers every import with an error for a while: nothing of it is applied.
    ac.setFault({ status: 500, method: 'POST', pathPrefix: '/import', durationMs: 8_000 });
    await optOutAll(sandbox, ids);
    await waitFor(() => ac.requestLog.some((r) => r.method === 'POST' && r.path.startsWith('/api/3/import/bulk_import') && r.status === 500), { what: 'a refused import' });
    ac.unsubscribe(people[0]!, own.id, { source: 'public' });
    await waitFor(() => people.every((email) => Number(ac.contactByEmail(email)?.lists[other.id]) === 2), { what: 'both unsubscribed from the other list', timeoutMs: 40_000 });
    await queuesEmpty(sandbox);
    const claimed = (await sandbox.app!.store.audit.historyForEmail(people[0]!)).filter((h) => h.decision === 'unsubscribe-list' && h.newValue === `list ${own.id}: 2`);
    expect(claimed).toEqual([]);
  }, 90_000);
});
