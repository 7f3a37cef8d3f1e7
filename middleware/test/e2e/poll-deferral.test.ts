import { engines } from '../support/test-databases';
import { startSandbox, type Sandbox } from '../support/sandbox-harness';
import { patchCollection } from '../support/salesforce-user';
import { waitFor } from '../support/wait-for';

// The AC account allows 5 requests/s for everything: a mass opt-out worked off through bulk import should get them,
// not the scheduled poll re-reading the contacts being unsubscribed.
describe.each(engines)('scheduled polls during a push backlog on %s', (engine) => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox(engine);
    await sandbox.startApp({ pollEveryMs: 300 });
    await waitFor(() => sandbox.app?.status().then((s) => s.stream?.connected === true && s.lastPollAt !== null), { what: 'stream connected and baseline poll done' });
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  test('when 600 contacts opt out in one bulk update, then no scheduled poll runs while the backlog is worked off, and polling resumes after it', async () => {
    const { sf, ac } = sandbox;
    const list = ac.createList('Mass');
    const ids: string[] = [];
    for (let i = 0; i < 600; i++) {
      ac.createContact(`mass${i}@example.com`, { lists: { [list.id]: 1 } });
      ids.push(String(sf.insert('Contact', { LastName: `Mass${i}`, Email: `mass${i}@example.com`, HasOptedOutOfEmail: false }).Id));
    }
    await sandbox.app!.pollNow();
    await patchCollection(sf, ids.map((id) => ({ type: 'Contact', id, fields: { HasOptedOutOfEmail: true } })));
    await waitFor(() => {
      for (let i = 0; i < 600; i++) if (Number(ac.contactByEmail(`mass${i}@example.com`)?.lists[list.id]) !== 2) return false;
      return true;
    }, { what: '600 contacts unsubscribed', timeoutMs: 100_000, intervalMs: 250 });

    const isPollPage = (url: string) => url.includes('filters%5Bupdated_after%5D') || url.includes('filters[updated_after]');
    const imports = ac.requestLog.filter((r) => r.method === 'POST' && r.path.startsWith('/api/3/import/bulk_import'));
    // A backlog worked off through imports (600 need three; once under CI load the last ones went by the single path,
    // which this suite does not judge): what matters here is the window between the first and the last import.
    expect(imports.length).toBeGreaterThanOrEqual(2);
    const backlogFrom = Date.parse(imports[0]!.at);
    const backlogTo = Date.parse(imports[imports.length - 1]!.at);
    // Polls were due every 300 ms over the whole backlog: none may start, and one that had already started may fetch
    // at most one more page (the pause is checked between pages; on a loaded machine that page can come late).
    const pollsDuring = ac.requestLog.filter((r) => isPollPage(r.url) && Date.parse(r.at) > backlogFrom + 1000 && Date.parse(r.at) <= backlogTo);
    expect(pollsDuring.filter((r) => !r.url.includes('id_greater'))).toHaveLength(0);
    expect(pollsDuring.length).toBeLessThanOrEqual(1);

    await waitFor(() => ac.requestLog.some((r) => isPollPage(r.url) && Date.parse(r.at) > backlogTo), { what: 'a scheduled poll after the backlog', timeoutMs: 30_000 });
  }, 150_000);
});
