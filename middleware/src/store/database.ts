// One SQL interface over two engines: embedded PGlite (default, no server) and PostgreSQL (production, several
// instances). Everything above this file speaks plain parameterised SQL that both engines accept.
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

export interface SqlExecutor {
  query(sql: string, params?: readonly unknown[]): Promise<{ rows: unknown[]; rowCount: number }>;
}

export interface Database extends SqlExecutor {
  readonly kind: 'pglite' | 'postgres';
  /** Runs fn inside BEGIN/COMMIT; any throw rolls back. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Runs a script of several statements (migrations). */
  exec(sql: string): Promise<void>;
  /**
   * Reclaims dead rows and refreshes the planner's statistics where nothing else does: PGlite runs Postgres in
   * single-user mode, without autovacuum. A PostgreSQL server's autovacuum does it there, so this is a no-op.
   */
  maintain(): Promise<void>;
  close(): Promise<void>;
}

class PgliteDatabase implements Database {
  readonly kind = 'pglite' as const;
  constructor(private readonly db: PGlite) {}

  async query(sql: string, params: readonly unknown[] = []) {
    const result = await this.db.query(sql, params as unknown[]);
    return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
  }

  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.db.transaction(async (tx) =>
      fn({
        query: async (sql, params = []) => {
          const result = await tx.query(sql, params as unknown[]);
          return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
        },
      }),
    );
  }

  async exec(sql: string) {
    await this.db.exec(sql);
  }

  async maintain() {
    await this.db.exec('VACUUM (ANALYZE)');
  }

  async close() {
    await this.db.close();
  }
}

class PostgresDatabase implements Database {
  readonly kind = 'postgres' as const;
  constructor(private readonly pool: pg.Pool) {
    // A terminated backend (failover, pg_terminate_backend) surfaces here for idle clients; the pool replaces
    // them, so log-and-continue is the right reaction rather than crashing the process.
    pool.on('error', () => undefined);
  }

  async query(sql: string, params: readonly unknown[] = []) {
    const result = await this.pool.query(sql, params as unknown[]);
    return { rows: result.rows as unknown[], rowCount: result.rowCount ?? 0 };
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    // The pool listens for errors on idle clients only: a backend terminated while this client is checked out
    // (pg_terminate_backend, a failover) emits 'error' here, and with no listener that crashes the process (found
    // by the chaos run). The query in flight rejects anyway; the broken client is dropped on release.
    let broken: Error | undefined;
    const onError = (error: Error) => {
      broken = error;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const value = await fn({
        query: async (sql, params = []) => {
          const result = await client.query(sql, params as unknown[]);
          return { rows: result.rows as unknown[], rowCount: result.rowCount ?? 0 };
        },
      });
      await client.query('COMMIT');
      return value;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: unknown) => {
        broken ??= rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      });
      throw error;
    } finally {
      client.removeListener('error', onError);
      // A dropped client may still report its closed socket; nobody needs to hear it.
      if (broken !== undefined) client.on('error', () => undefined);
      client.release(broken);
    }
  }

  async exec(sql: string) {
    await this.pool.query(sql);
  }

  async maintain() {
    // The server's autovacuum reclaims and analyzes.
  }

  async close() {
    await this.pool.end();
  }
}

/**
 * PGlite starts Postgres with a server's shared_buffers (128 MB), which Postgres touches at start: an embedded
 * store then holds ~300 MB resident before it stores anything (measured: 306 MB after open, 160 MB with 16 MB).
 * One instance's queue, cursors and audit log work in far less, and pages beyond the buffers come from the
 * operating system's file cache.
 */
const pgliteStartParams = [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'];

export type DatabaseTarget = { kind: 'postgres'; url: string } | { kind: 'pglite'; dataDir: string | null };

/** Opens the database; `dataDir: null` gives an in-memory PGlite (tests). */
export async function openDatabase(target: DatabaseTarget): Promise<Database> {
  if (target.kind === 'postgres') {
    const pool = new pg.Pool({ connectionString: target.url, max: 10, connectionTimeoutMillis: 10_000 });
    await pool.query('select 1');
    return new PostgresDatabase(pool);
  }
  const db = target.dataDir === null ? new PGlite({ startParams: pgliteStartParams }) : new PGlite(target.dataDir, { startParams: pgliteStartParams });
  await db.waitReady;
  return new PgliteDatabase(db);
}
