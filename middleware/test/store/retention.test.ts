// Retention: expired rows go, in small batches that never wait on a worker's lock; what is still needed (pending
// webhook deliveries, open dead letters, recent audit entries) stays; 0 keeps a table forever.
import pg from 'pg';
import { engines, openTestDatabase, type TestDatabase } from '../support/test-databases';
import { createStore, type Store } from '../../src/store';
import { RetentionPruner, defaultRetention, type RetentionSettings } from '../../src/store/retention';
import { parseConfig } from '../../src/config/load-config';

const now = new Date('2026-06-01T12:00:00Z');
const daysAgo = (d: number) => new Date(now.getTime() - d * 24 * 3600_000);

async function count(store: Store, sql: string): Promise<number> {
  const { rows } = await store.db.query(`SELECT count(*)::int AS n FROM ${sql}`);
  return Number((rows[0] as { n: number }).n);
}

async function seed(store: Store, table: 'webhook_inbox' | 'quarantine' | 'audit_log' | 'jobs' | 'dead_letters', at: Date, extra: Record<string, unknown> = {}, n = 1): Promise<void> {
  for (let i = 0; i < n; i += 1) {
    const tag = `${table}-${at.toISOString()}-${i}-${Math.random()}`;
    if (table === 'webhook_inbox') await store.db.query(`INSERT INTO webhook_inbox (dedupe_key, payload, received_at, processed_at) VALUES ($1, '{}', $2, $3)`, [tag, at, extra.pending === true ? null : at]);
    if (table === 'quarantine') await store.db.query(`INSERT INTO quarantine (source, reason, raw, received_at) VALUES ('webhook', 'bad', $1, $2)`, [tag, at]);
    if (table === 'audit_log') await store.db.query(`INSERT INTO audit_log (occurred_at, direction, decision, reason, result) VALUES ($1, 'sf_to_ac', 'unsubscribe', $2, 'ok')`, [at, tag]);
    if (table === 'jobs') await store.db.query(`INSERT INTO jobs (kind, subject, payload, state, created_at, updated_at) VALUES ('push-email', $1, '{}', $2, $3, $3)`, [tag, extra.state ?? 'done', at]);
    if (table === 'dead_letters') await store.db.query(`INSERT INTO dead_letters (job_id, kind, subject, payload, attempts, last_error, failed_at, retried_at) VALUES (1, 'push-email', $1, '{}', 8, 'x', $2, $3)`, [tag, at, extra.open === true ? null : at]);
  }
}

const settings = (overrides: Partial<RetentionSettings> = {}): RetentionSettings => ({ ...defaultRetention, pauseMs: 0, ...overrides });

describe('retention settings', () => {
  const required = { SF_CLIENT_ID: 'c', SF_CLIENT_SECRET: 'sf-secret-value-123', AC_API_URL: 'http://127.0.0.1:1', AC_API_TOKEN: 'ac-token-abcdef-0123456789', ADMIN_TOKEN: 'admin-token-0123456789', WEBHOOK_SECRET: 'webhook-secret-0123456789' };

  test('when nothing is set, then the audit log is kept at least two years and the rest for documented shorter times', () => {
    const retention = parseConfig(required).retention;
    expect(retention.auditLogDays).toBeGreaterThanOrEqual(730);
    expect(retention).toEqual({ auditLogDays: 1095, webhookInboxDays: 14, quarantineDays: 90, jobsDays: 30, batchSize: 500 });
  });

  test('when a retention is 0 or negative, then 0 means forever and a negative value is refused by name', () => {
    expect(parseConfig({ ...required, RETENTION_AUDIT_LOG_DAYS: '0' }).retention.auditLogDays).toBe(0);
    expect(() => parseConfig({ ...required, RETENTION_QUARANTINE_DAYS: '-1' })).toThrow(/RETENTION_QUARANTINE_DAYS: must be 0 \(keep forever\)/);
  });
});

describe.each(engines)('retention pruning on %s', (engine) => {
  let database: TestDatabase;
  let store: Store;

  beforeEach(async () => {
    database = await openTestDatabase(engine);
    store = await createStore(database.db, () => now, 'retention-test');
  });
  afterEach(async () => {
    await database?.drop();
  });

  test('when rows are past their retention, then they are deleted and everything still needed stays', async () => {
    await seed(store, 'webhook_inbox', daysAgo(20), {}, 3);
    await seed(store, 'webhook_inbox', daysAgo(20), { pending: true });
    await seed(store, 'webhook_inbox', daysAgo(2));
    await seed(store, 'quarantine', daysAgo(100), {}, 2);
    await seed(store, 'quarantine', daysAgo(10));
    await seed(store, 'jobs', daysAgo(40), { state: 'done' }, 2);
    await seed(store, 'jobs', daysAgo(40), { state: 'queued' });
    await seed(store, 'dead_letters', daysAgo(40), {}, 2);
    await seed(store, 'dead_letters', daysAgo(400), { open: true });
    await seed(store, 'audit_log', daysAgo(1200), {}, 2);
    await seed(store, 'audit_log', daysAgo(729));

    const report = await new RetentionPruner({ db: store.db, clock: () => now, settings: settings() }).pruneOnce();

    expect(report).toEqual({ webhook_inbox: 3, quarantine: 2, jobs: 2, dead_letters: 2, audit_log: 2 });
    expect(await count(store, 'webhook_inbox WHERE processed_at IS NULL')).toBe(1);
    expect(await count(store, 'webhook_inbox')).toBe(2);
    expect(await count(store, 'quarantine')).toBe(1);
    expect(await count(store, `jobs WHERE state = 'queued'`)).toBe(1);
    expect(await count(store, 'jobs')).toBe(1);
    expect(await count(store, 'dead_letters WHERE retried_at IS NULL')).toBe(1);
    expect(await count(store, 'dead_letters')).toBe(1);
    // The audit entry of 729 days ago is a consent record still within two years.
    expect(await count(store, 'audit_log')).toBe(1);
  });

  test('when many rows expire, then they go in batches of the configured size with a pause between batches', async () => {
    await seed(store, 'quarantine', daysAgo(200), {}, 23);
    const pauses: number[] = [];
    const report = await new RetentionPruner({ db: store.db, clock: () => now, settings: settings({ batchSize: 5, pauseMs: 7 }), sleep: async (ms) => void pauses.push(ms) }).pruneOnce();
    expect(report.quarantine).toBe(23);
    // 5 + 5 + 5 + 5 + 3: a pause after each full batch.
    expect(pauses).toEqual([7, 7, 7, 7]);
    expect(await count(store, 'quarantine')).toBe(0);
  });

  test('when a retention is 0, then that table is kept forever', async () => {
    await seed(store, 'audit_log', daysAgo(5000), {}, 2);
    const report = await new RetentionPruner({ db: store.db, clock: () => now, settings: settings({ auditLogDays: 0 }) }).pruneOnce();
    expect(report.audit_log).toBe(0);
    expect(await count(store, 'audit_log')).toBe(2);
  });

  if (engine === 'postgres') {
    test('when a worker holds a lock on an expired row, then pruning skips it instead of waiting', async () => {
      await seed(store, 'jobs', daysAgo(40), { state: 'done' }, 3);
      const worker = new pg.Client({ connectionString: database.url! });
      await worker.connect();
      try {
        await worker.query('BEGIN');
        const locked = await worker.query(`SELECT id FROM jobs ORDER BY id LIMIT 1 FOR UPDATE`);
        const started = Date.now();
        const report = await new RetentionPruner({ db: store.db, clock: () => now, settings: settings() }).pruneOnce();
        expect(Date.now() - started).toBeLessThan(2000);
        expect(report.jobs).toBe(2);
        await worker.query('COMMIT');
        const left = await store.db.query(`SELECT id FROM jobs`);
        expect(left.rows.map((r) => String((r as { id: unknown }).id))).toEqual([String((locked.rows[0] as { id: unknown }).id)]);
      } finally {
        await worker.end();
      }
    });
  }
});
