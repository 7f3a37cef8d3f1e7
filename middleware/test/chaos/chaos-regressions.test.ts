// Product failures the chaos run found, each kept as a small deterministic case (issue 8: "a failure found here is
// fixed in the product, with the shrunk case kept as a regression test").
import pino from 'pino';
import { z } from 'zod';
import { createPostgresDatabase, engines, openTestDatabase, type TestDatabase } from '../support/test-databases';
import { openDatabase } from '../../src/store/database';
import { createStore, type Store } from '../../src/store';
import { systemClock } from '../../src/store/clock';
import { createMetrics } from '../../src/observability/metrics';
import { startActiveCampaignEmulator, type ActiveCampaignEmulator } from '../../src/sandbox/activecampaign';
import { ActiveCampaignClient } from '../../src/activecampaign/activecampaign-client';
import { AcServerError } from '../../src/activecampaign/activecampaign-errors';
import { TokenBucket } from '../../src/activecampaign/rate-limiter';
import { PushWorker } from '../../src/workers/push-worker';
import { SalesforceReconciler, RECONCILE_MARGIN_MS } from '../../src/workers/salesforce-reconciler';
import type { SalesforceIntake } from '../../src/workers/salesforce-intake';
import type { OptOutChange } from '../../src/salesforce/change-normaliser';
import { pushJobKind } from '../../src/sync/push-job';
import { defaultSettings } from '../../src/sync/settings';
import { waitFor } from '../support/wait-for';

const silent = pino({ level: 'silent' });
const auditRow = z.object({ decision: z.string(), result: z.string(), new_value: z.string().nullable() });

describe.each(engines)('chaos regressions on %s', (engine) => {
  let database: TestDatabase;
  let store: Store;
  let ac: ActiveCampaignEmulator;

  beforeAll(async () => {
    database = await openTestDatabase(engine);
    store = await createStore(database.db, systemClock, 'regression-worker');
    ac = await startActiveCampaignEmulator({ rateLimitPerSecond: 100 });
  });
  afterAll(async () => {
    await ac?.close();
    await database?.drop();
  });

  /** A push worker on the real AC client whose list POST number `failOn` throws `error` instead of reaching AC. */
  function pushWorkerFailingOnPost(failOn: number, error: Error): PushWorker {
    const real = new ActiveCampaignClient({ apiUrl: ac.url, apiToken: ac.apiToken, rateLimiter: new TokenBucket({ ratePerSecond: 100 }), timeoutMs: 3000, logger: silent });
    let posts = 0;
    const client = {
      findContactWithListsByEmail: real.findContactWithListsByEmail.bind(real),
      findContactByEmail: real.findContactByEmail.bind(real),
      bulkImportUnsubscribe: real.bulkImportUnsubscribe.bind(real),
      getImportStatus: real.getImportStatus.bind(real),
      getContactsWithLists: real.getContactsWithLists.bind(real),
      setListStatus: async (...args: Parameters<ActiveCampaignClient['setListStatus']>) => {
        posts++;
        if (posts === failOn) throw error;
        return real.setListStatus(...args);
      },
    };
    return new PushWorker({ store, ac: client, reader: { readByEmails: async () => [] }, settings: () => defaultSettings, bulkThreshold: 1000, retry: { maxAttempts: 5, backoffBaseMs: 1 }, clock: systemClock, logger: silent, metrics: createMetrics() });
  }

  const enqueueOptOut = (email: string, recordId: string) =>
    store.db.transaction((tx) => store.jobs.enqueue(tx, pushJobKind, [{ subject: email, payload: { email, optOutPending: true, latestOptedOut: true, latestChangedAt: new Date().toISOString(), recordIds: [recordId], sources: ['CDC'] } }]));

  test('when an opt-out fails part-way (the second list answers 503), then the list already unsubscribed is audited and remembered, and the retry audits the other one', async () => {
    const news = ac.createList('News');
    const offers = ac.createList('Offers');
    const email = 'partial@example.com';
    ac.createContact(email, { lists: { [news.id]: 1, [offers.id]: 1 } });
    // The chaos run met this with a 503 outage or a 429 storm starting between two POSTs of one job.
    const worker = pushWorkerFailingOnPost(2, new AcServerError(503, 'POST /contactLists'));
    await enqueueOptOut(email, '003000000000001AAA');

    await worker.runOnce();
    await waitFor(async () => {
      await worker.runOnce();
      return (await store.jobs.counts()).every((c) => c.kind !== pushJobKind.name || c.state === 'done');
    }, { what: 'the retried job done' });

    const rows = (await store.db.query(`SELECT decision, result, new_value FROM audit_log WHERE email_norm = $1 AND decision = 'unsubscribe-list'`, [email])).rows.map((r) => auditRow.parse(r));
    expect(rows.map((r) => r.new_value).sort()).toEqual([`list ${news.id}: 2`, `list ${offers.id}: 2`].sort());
    expect(rows.every((r) => r.result === 'unsubscribed')).toBe(true);
    const remembered = await store.db.query(`SELECT list_id FROM lists_unsubscribed_by_us WHERE email_norm = $1`, [email]);
    expect(remembered.rows.map((r) => z.object({ list_id: z.string() }).parse(r).list_id).sort()).toEqual([news.id, offers.id].sort());
    expect(Object.values(ac.contactByEmail(email)!.lists)).toEqual([2, 2]);
  });

  test('when an opt-out job fails with an error that is not AC refusing it (a terminated database connection), then it is retried instead of dead-lettered', async () => {
    // Chaos seed 655713832: pg_terminate_backend hit a push job between its AC calls; anything not an AC error was
    // taken for permanent and the opt-out went to the dead letters on its second attempt.
    const news = ac.createList('Terminated');
    const email = 'terminated@example.com';
    ac.createContact(email, { lists: { [news.id]: 1 } });
    const worker = pushWorkerFailingOnPost(1, Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }));
    await enqueueOptOut(email, '003000000000002AAA');

    await waitFor(async () => {
      await worker.runOnce();
      return (await store.jobs.counts()).every((c) => c.kind !== pushJobKind.name);
    }, { what: 'the job finished' });

    expect((await store.jobs.listDeadLetters()).filter((d) => d.subject === email)).toEqual([]);
    expect(ac.contactByEmail(email)!.lists[news.id]).toBe(2);
  });

  test('when the replay id expired, then the reconcile also finds a change committed in the second before the last checkpoint (in flight when the stream holder died)', async () => {
    const checkpoint = new Date('2026-11-23T07:31:38.208Z');
    // Salesforce stamps whole seconds: a change committed at 07:31:38.400 reads 07:31:38.000, before the checkpoint.
    const rows = [{ Id: '003000000000002AAA', Email: 'inflight@example.com', HasOptedOutOfEmail: true, LastModifiedDate: '2026-11-23T07:31:38.000Z' }];
    const asked: Date[] = [];
    const queued: OptOutChange[] = [];
    const reconciler = new SalesforceReconciler({
      store,
      rest: {
        queryChangedSince: async <T>(_object: string, since: Date, _fields: string[], schema: z.ZodType<T>) => {
          asked.push(since);
          return rows.filter((r) => Date.parse(r.LastModifiedDate) > since.getTime()).map((r) => schema.parse(r));
        },
      },
      intake: { queue: async (_tx: unknown, changes: OptOutChange[]) => void queued.push(...changes) } as unknown as SalesforceIntake,
      settings: () => defaultSettings,
      clock: systemClock,
      logger: silent,
    });

    await reconciler.reconcile(['Contact'], checkpoint, 'replay id expired');

    expect(asked).toEqual([new Date(checkpoint.getTime() - RECONCILE_MARGIN_MS)]);
    expect(queued.map((c) => [c.recordId, c.optedOut])).toEqual([['003000000000002AAA', true]]);
  });

  test('when an opted-out record got a new Email while the stream was down, then the reconcile queues R1 for the new address, dated by the record\'s last change', async () => {
    // Chaos short run, seed 1560943147: the stream holder was killed with its replay id expiring; an opted-out
    // Contact's Email was edited to another person's address in the window; the reconcile saw an opt-out value it
    // already knew and queued nothing, so the new address stayed subscribed (and R3 never opted out its records).
    const recordId = '003000000000003AAA';
    await store.db.transaction((tx) =>
      store.links.recordObservations([{ recordId, objectName: 'Contact', email: 'before@example.com', optedOut: true, changedAt: new Date('2026-12-06T18:25:15.000Z') }], tx),
    );
    const rows = [{ Id: recordId, Email: 'After@Example.com', HasOptedOutOfEmail: true, LastModifiedDate: '2026-12-06T18:25:35.000Z' }];
    const queued: OptOutChange[] = [];
    const reconciler = new SalesforceReconciler({
      store,
      rest: { queryChangedSince: async <T>(_object: string, _since: Date, _fields: string[], schema: z.ZodType<T>) => rows.map((r) => schema.parse(r)) },
      intake: { queue: async (_tx: unknown, changes: OptOutChange[]) => void queued.push(...changes) } as unknown as SalesforceIntake,
      settings: () => defaultSettings,
      clock: systemClock,
      logger: silent,
    });

    await reconciler.reconcile(['Contact'], new Date('2026-12-06T18:25:30.000Z'), 'replay id expired');

    expect(queued.map((c) => [c.recordId, c.email, c.optedOut, c.source, c.changedAt.toISOString()])).toEqual([[recordId, 'After@Example.com', true, 'EMAIL_CHANGE', '2026-12-06T18:25:35.000Z']]);
  });

  test('when a reconcile is requested while another one runs, then it makes its own query after the first one ends instead of sharing its result', async () => {
    const events: string[] = [];
    let releaseFirst: () => void = () => undefined;
    const firstQueryHeld = new Promise<void>((resolve) => {
      releaseFirst = resolve;
    });
    const reconciler = new SalesforceReconciler({
      store,
      rest: {
        queryChangedSince: async <T>(_object: string, since: Date) => {
          events.push(`query since ${since.toISOString()}`);
          if (events.length === 1) await firstQueryHeld;
          return [] as T[];
        },
      },
      intake: { queue: async () => undefined } as unknown as SalesforceIntake,
      settings: () => defaultSettings,
      clock: systemClock,
      logger: silent,
    });
    const adminRequested = reconciler.reconcile(['Contact'], new Date('2026-11-23T08:00:00.000Z'), 'requested through the admin API');
    await waitFor(() => events.length === 1, { what: 'the first query in flight' });
    // A gap recorded now may hold changes the first query can no longer see.
    const gapReconcile = reconciler.reconcile(['Contact'], new Date('2026-11-23T09:00:00.000Z'), 'a -1 subscription was cut');
    releaseFirst();
    await Promise.all([adminRequested, gapReconcile]);
    expect(events).toEqual([
      `query since ${new Date(Date.parse('2026-11-23T08:00:00.000Z') - RECONCILE_MARGIN_MS).toISOString()}`,
      `query since ${new Date(Date.parse('2026-11-23T09:00:00.000Z') - RECONCILE_MARGIN_MS).toISOString()}`,
    ]);
  });
});

describe('chaos regressions on PostgreSQL only', () => {
  test('when PostgreSQL terminates the backend of a transaction in flight, then the transaction fails, the process lives on and the next query works', async () => {
    const created = await createPostgresDatabase();
    const db = await openDatabase({ kind: 'postgres', url: created.url });
    try {
      // The chaos run's pg_terminate_backend met a checked-out client: its 'error' event had no listener.
      await expect(db.transaction((tx) => tx.query('SELECT pg_terminate_backend(pg_backend_pid())'))).rejects.toThrow();
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect((await db.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await expect(db.transaction(async (tx) => (await tx.query('SELECT 2 AS two')).rows)).resolves.toEqual([{ two: 2 }]);
    } finally {
      await db.close();
      await created.drop();
    }
  });
});
