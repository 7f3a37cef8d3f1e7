// R1 keeps the lists a person joined after the opt-out (newest wins). The single path reads each list's subscribe
// date; the bulk path (a backlog: a week-long outage, a replayed batch) must keep them too. Here the opt-outs are
// queued while AC refuses imports for a while, and one person joins a list (the webhook reaches the middleware, so
// its snapshot shows the list active) after the opt-out but before the import goes out.
import { readySandboxPerSuite } from '../support/sandbox-suite';
import { knownPeople, optOutAll, queuesEmpty } from '../support/bulk-backlog';
import { waitFor } from '../support/wait-for';

describe('a backlog of opt-outs through bulk import (pglite)', () => {
  // Two queued opt-outs are a backlog: the bulk path.
  const sandboxOf = readySandboxPerSuite('pglite', { env: { AC_BULK_THRESHOLD: '1' } });

  test('when a person joins a list after their opt-out and before the import, then the import keeps that list', async () => {
    const sandbox = sandboxOf();
    const { ac } = sandbox;
    const news = ac.createList('News');
    const later = ac.createList('Joined later');
    const people = ['keep.a@example.com', 'keep.b@example.com'];
    const ids = await knownPeople(sandbox, people, { [news.id]: 1 });
    // AC refuses imports for a while: the opt-outs wait in the queue (without using an attempt).
    ac.setFault({ status: 503, method: 'POST', pathPrefix: '/import', durationMs: 6_000 });
    await optOutAll(sandbox, ids);
    await waitFor(() => ac.requestLog.some((r) => r.method === 'POST' && r.path.startsWith('/api/3/import/bulk_import')), { what: 'a refused import' });
    // A second later (AC dates to the second), the first person is added to another list.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    ac.subscribe(people[0]!, later.id, { source: 'admin' });
    await waitFor(async () => Number((await sandbox.app!.store.snapshots.findByEmails([people[0]!])).get(people[0]!)?.listStatuses[later.id]) === 1, { what: 'the snapshot knows the later list', timeoutMs: 20_000 });
    await waitFor(() => people.every((email) => Number(ac.contactByEmail(email)?.lists[news.id]) === 2), { what: 'both unsubscribed from the list joined before', timeoutMs: 30_000 });
    await queuesEmpty(sandbox);
    expect(Number(ac.contactByEmail(people[0]!)?.lists[later.id])).toBe(1);
  }, 90_000);

  test('when the unchanged state of the contacts is read again after their opt-out, then the backlog still goes out as an import', async () => {
    const sandbox = sandboxOf();
    const { ac } = sandbox;
    const news = ac.createList('Reread');
    const people = ['reread.a@example.com', 'reread.b@example.com', 'reread.c@example.com'];
    const ids = await knownPeople(sandbox, people, { [news.id]: 1 });
    ac.setFault({ status: 503, method: 'POST', pathPrefix: '/import', durationMs: 6_000 });
    const importsBefore = ac.requestLog.filter((r) => r.method === 'POST' && r.path.startsWith('/api/3/import/bulk_import') && r.status === 200).length;
    const membershipPostsBefore = ac.requestLog.filter((r) => r.method === 'POST' && r.path.startsWith('/api/3/contactLists')).length;
    await optOutAll(sandbox, ids);
    await waitFor(() => ac.requestLog.some((r) => r.method === 'POST' && r.path.startsWith('/api/3/import/bulk_import') && r.status === 503), { what: 'a refused import' });
    // Seconds after the opt-out the middleware records the same state again, as every poll, reconciliation or
    // webhook read does: nothing was joined, so nothing calls for the single path (after a week-long outage, the
    // single path for the whole backlog is hours at 5 req/s).
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const store = sandbox.app!.store;
    await store.snapshots.upsertMany([...(await store.snapshots.findByEmails(people)).values()]);
    await waitFor(() => people.every((email) => Number(ac.contactByEmail(email)?.lists[news.id]) === 2), { what: 'all unsubscribed', timeoutMs: 30_000 });
    expect(ac.requestLog.filter((r) => r.method === 'POST' && r.path.startsWith('/api/3/import/bulk_import') && r.status === 200).length).toBeGreaterThan(importsBefore);
    expect(ac.requestLog.filter((r) => r.method === 'POST' && r.path.startsWith('/api/3/contactLists')).length).toBe(membershipPostsBefore);
  }, 90_000);

  test('when a person leaves a list and joins it again after their opt-out, between two reads, then the import keeps it', async () => {
    const sandbox = sandboxOf();
    const { ac } = sandbox;
    const news = ac.createList('Left and rejoined');
    const other = ac.createList('Only before');
    const people = ['rejoin.a@example.com', 'rejoin.b@example.com'];
    const ids = await knownPeople(sandbox, people, { [news.id]: 1, [other.id]: 1 });
    // Whether a list change re-dates the contact AC does not document: here it does not, so only the list's own
    // subscribe date tells.
    ac.configure({ listChangeBumpsUdate: false });
    try {
      ac.setFault({ status: 503, method: 'POST', pathPrefix: '/import', durationMs: 6_000 });
      await optOutAll(sandbox, ids);
      await waitFor(() => ac.requestLog.some((r) => r.method === 'POST' && r.path.startsWith('/api/3/import/bulk_import') && r.status === 503), { what: 'a refused import' });
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      // Left and joined again in one go: whatever reads the contact next sees the list active before and after.
      ac.unsubscribe(people[0]!, news.id, { source: 'admin' });
      ac.subscribe(people[0]!, news.id, { source: 'admin' });
      await waitFor(async () => ((await sandbox.app!.store.snapshots.findByEmails([people[0]!])).get(people[0]!)?.lastSubscribedAt?.getTime() ?? 0) > Date.now() - 5_000, { what: 'the snapshot knows the new subscribe date', timeoutMs: 20_000 });
      await waitFor(() => people.every((email) => Number(ac.contactByEmail(email)?.lists[other.id]) === 2), { what: 'both unsubscribed from the list joined before', timeoutMs: 30_000 });
      await queuesEmpty(sandbox);
      expect(Number(ac.contactByEmail(people[0]!)?.lists[news.id])).toBe(1);
      expect(Number(ac.contactByEmail(people[1]!)?.lists[news.id])).toBe(2);
    } finally {
      ac.configure({ listChangeBumpsUdate: true });
    }
  }, 90_000);
});
