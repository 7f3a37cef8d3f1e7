// Every store-backed test runs on both engines. PostgreSQL gets a fresh database per test file; when it cannot be
// reached the test fails with a clear message (it never passes by skipping).
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { openDatabase, type Database } from '../../src/store/database';

export const engines = ['pglite', 'postgres'] as const;
export type Engine = (typeof engines)[number];

const adminUrl = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  db: Database;
  url: string | null;
  drop(): Promise<void>;
}

/** Creates an empty PostgreSQL database and returns its URL (for child processes and several instances). */
export async function createPostgresDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `optout_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(
      `PostgreSQL is required for this test and is not reachable at ${adminUrl.replace(/\/\/[^@]*@/, '//')} ` +
        `(${(error as Error).message}); start it (see .ci/run) or set TEST_POSTGRES_URL`,
      { cause: error },
    );
  }
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = adminUrl.replace(/\/[^/]*$/, `/${name}`);
  return {
    url,
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export async function openTestDatabase(engine: Engine): Promise<TestDatabase> {
  if (engine === 'pglite') {
    const db = await openDatabase({ kind: 'pglite', dataDir: null });
    return { db, url: null, drop: () => db.close() };
  }
  const created = await createPostgresDatabase();
  const db = await openDatabase({ kind: 'postgres', url: created.url });
  return {
    db,
    url: created.url,
    drop: async () => {
      await db.close();
      await created.drop();
    },
  };
}
