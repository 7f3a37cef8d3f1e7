import { z } from 'zod';
import type { Database } from './database';
import { migrations, type Migration } from './migrations';

// Any fixed number works; it only has to be the same for every instance so that two starting instances on one
// PostgreSQL never run the same migration at once.
const MIGRATION_LOCK_KEY = 461_937_001;

const appliedRow = z.object({ version: z.coerce.number().int() });

/** Applies every migration not yet applied, each in its own transaction. Returns the versions applied now. */
export async function migrate(db: Database, all: Migration[] = migrations): Promise<number[]> {
  await db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  const appliedNow: number[] = [];
  for (const migration of [...all].sort((a, b) => a.version - b.version)) {
    const applied = await db.transaction(async (tx) => {
      if (db.kind === 'postgres') await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      const existing = await tx.query('SELECT version FROM schema_migrations WHERE version = $1', [migration.version]);
      if (existing.rows.map((r) => appliedRow.parse(r)).length > 0) return false;
      for (const statement of splitStatements(migration.sql)) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
      return true;
    });
    if (applied) appliedNow.push(migration.version);
  }
  return appliedNow;
}

/** Migrations hold plain DDL without functions, so splitting on statement-ending semicolons is safe. */
function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
    .filter((s) => s.length > 0);
}
