// Issue 3 item 7: the middleware killed with SIGKILL in the middle of a backlog and restarted on the same database.
// The middleware runs as a child process (the real thing, configured from its environment); the emulators stay in
// this process and the child reaches them over HTTP. PGlite allows one process per data directory: the restarted
// child reopens the directory the killed one left behind.
import { engines } from '../support/test-databases';
import { startSandbox, fastTiming, testSecrets, type Sandbox } from '../support/sandbox-harness';
import { startMiddlewareChild, type MiddlewareChild } from '../support/middleware-child';
import { patchCollection } from '../support/salesforce-user';
import { waitFor } from '../support/wait-for';
import { z } from 'zod';

const BACKLOG = 300;
// A higher account budget than AC's 5/s keeps the file short; the kill still lands mid-backlog (asserted).
const RATE = 40;

const statusSchema = z.object({ stream: z.object({ connected: z.boolean() }).nullable(), queue: z.array(z.object({ kind: z.string(), state: z.string(), n: z.number() })) });
const historySchema = z.object({ entries: z.array(z.object({ decision: z.string(), result: z.string(), newValue: z.string().nullable() })) });

describe.each(engines)('SIGKILL in the middle of a backlog on %s', (engine) => {
  let sandbox: Sandbox;
  let child: MiddlewareChild | null = null;

  beforeAll(async () => {
    sandbox = await startSandbox(engine, { persistent: true, ac: { rateLimitPerSecond: RATE } });
  });
  afterAll(async () => {
    await child?.kill('SIGKILL');
    await sandbox?.close();
  });

  function childEnv(): Record<string, string> {
    const { sf, ac, config } = sandbox;
    return {
      SF_LOGIN_URL: sf.url,
      SF_CLIENT_ID: sf.clientId,
      SF_CLIENT_SECRET: sf.clientSecret,
      SF_API_VERSION: '62.0',
      AC_API_URL: ac.url,
      AC_API_TOKEN: ac.apiToken,
      AC_RATE_LIMIT_PER_SECOND: String(RATE),
      // Single updates only: every list set to 2 is then one POST /contactLists that the request log counts.
      AC_BULK_THRESHOLD: '100000',
      ...(config.database.kind === 'postgres' ? { DATABASE_URL: config.database.url } : { PGLITE_DATA_DIR: config.database.dataDir }),
      HTTP_PORT: '0',
      ADMIN_TOKEN: testSecrets.adminToken,
      WEBHOOK_SECRET: testSecrets.webhookSecret,
      JOB_BACKOFF_BASE_MS: '50',
      JOB_MAX_ATTEMPTS: '6',
      LOG_LEVEL: 'info',
    };
  }

  async function admin<T>(path: string, schema: z.ZodType<T>): Promise<T> {
    const response = await fetch(`${child!.url}/admin${path}`, { headers: { authorization: `Bearer ${testSecrets.adminToken}` } });
    if (response.status !== 200) throw new Error(`GET /admin${path} answered ${response.status}`);
    return schema.parse(await response.json());
  }

  const startChild = async () => {
    child = await startMiddlewareChild(childEnv(), { ...fastTiming, jobLeaseMs: 3000 });
    await waitFor(async () => (await admin('/status', statusSchema)).stream?.connected === true, { what: 'child stream connected', timeoutMs: 20_000 }).catch((error: unknown) => {
      throw new Error(`${String(error)}\nchild logs:\n${child?.logs.filter((l) => !l.includes('brought in line')).slice(-25).join('\n')}`);
    });
  };

  test('when the middleware is killed mid-backlog and restarted, then every opt-out is applied once and none is lost', async () => {
    const { sf, ac } = sandbox;
    const news = ac.createList('News');
    const offers = ac.createList('Offers');
    const emails: string[] = [];
    const ids: string[] = [];
    let memberships = 0;
    for (let i = 0; i < BACKLOG; i++) {
      const email = `kill${i}@example.com`;
      const lists = i % 3 === 0 ? { [news.id]: 1 as const, [offers.id]: 1 as const } : { [news.id]: 1 as const };
      memberships += Object.keys(lists).length;
      ac.createContact(email, { lists });
      emails.push(email);
      ids.push(String(sf.insert('Contact', { LastName: `Kill${i}`, Email: email, HasOptedOutOfEmail: false }).Id));
    }
    const done = () => emails.filter((e) => Object.values(ac.contactByEmail(e)!.lists).every((s) => Number(s) === 2)).length;
    const listPosts = () => ac.requestLog.filter((r) => r.method === 'POST' && r.path === '/api/3/contactLists' && r.status === 200).length;

    // The last ten opt out while the middleware is down.
    const late = emails.slice(BACKLOG - 10);
    const lateIds = ids.slice(BACKLOG - 10);
    await startChild();
    await patchCollection(sf, ids.slice(0, BACKLOG - 10).map((id) => ({ type: 'Contact', id, fields: { HasOptedOutOfEmail: true } })));
    await waitFor(() => done() >= BACKLOG / 4, { what: 'a quarter of the backlog done', timeoutMs: 30_000, intervalMs: 5 });
    const killed = await child!.kill('SIGKILL');
    child = null;
    expect(killed.signal).toBe('SIGKILL');
    const doneAtKill = done();
    expect(doneAtKill).toBeLessThan(BACKLOG - 10);
    expect(late.some((e) => Number(ac.contactByEmail(e)!.lists[news.id]) === 2)).toBe(false);

    // Changes keep happening in Salesforce while the middleware is down; the stream resumes from its replay id.
    await patchCollection(sf, lateIds.map((id) => ({ type: 'Contact', id, fields: { HasOptedOutOfEmail: true } })));
    await startChild();
    await waitFor(() => done() === BACKLOG, { what: 'every opt-out applied after the restart', timeoutMs: 40_000, intervalMs: 100 });
    await waitFor(async () => (await admin('/status', statusSchema)).queue.length === 0, { what: 'queue empty, no dead letters' });

    // None applied twice in effect: each membership moved to 2 by exactly one POST (a re-run reads, then skips).
    expect(listPosts()).toBe(memberships);
    expect(ac.requestLog.some((r) => r.path.startsWith('/api/3/import'))).toBe(false);
    // The audit names every list once as unsubscribed by this product, including the jobs the kill interrupted.
    const missing: string[] = [];
    for (const [i, email] of emails.entries()) {
      const history = await admin(`/history/${encodeURIComponent(email)}`, historySchema);
      const unsubscribed = history.entries.filter((e) => e.decision === 'unsubscribe-list' && e.result === 'unsubscribed').map((e) => e.newValue);
      const expected = i % 3 === 0 ? [`list ${news.id}: 2`, `list ${offers.id}: 2`] : [`list ${news.id}: 2`];
      if (JSON.stringify(unsubscribed.sort()) !== JSON.stringify(expected.sort())) missing.push(`${email}: ${JSON.stringify(unsubscribed)}`);
    }
    expect(missing).toEqual([]);
    await child!.kill('SIGTERM');
    child = null;
  }, 100_000);
});
