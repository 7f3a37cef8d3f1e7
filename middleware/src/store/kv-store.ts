import { z } from 'zod';
import type { SqlExecutor } from './database';
import type { Clock } from './clock';

/** Small named state (poll cursors, first-run markers, cached settings), each value parsed on read. */
export class KvStore {
  constructor(private readonly db: SqlExecutor, private readonly clock: Clock) {}

  async get<T>(key: string, schema: z.ZodType<T>, tx: SqlExecutor = this.db): Promise<T | null> {
    const result = await tx.query(`SELECT value FROM kv_state WHERE key = $1`, [key]);
    if (result.rows[0] === undefined) return null;
    return schema.parse(z.object({ value: z.unknown() }).parse(result.rows[0]).value);
  }

  async getMany<T>(keys: string[], schema: z.ZodType<T>, tx: SqlExecutor = this.db): Promise<Map<string, T>> {
    if (keys.length === 0) return new Map();
    const result = await tx.query(`SELECT key, value FROM kv_state WHERE key = ANY($1::text[])`, [keys]);
    return new Map(result.rows.map((r) => z.object({ key: z.string(), value: z.unknown() }).parse(r)).map((r) => [r.key, schema.parse(r.value)]));
  }

  async delete(keys: string[], tx: SqlExecutor = this.db): Promise<void> {
    if (keys.length > 0) await tx.query(`DELETE FROM kv_state WHERE key = ANY($1::text[])`, [keys]);
  }

  async set(key: string, value: unknown, tx: SqlExecutor = this.db): Promise<void> {
    await tx.query(
      `INSERT INTO kv_state (key, value, updated_at) VALUES ($1, $2, $3)
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at`,
      [key, JSON.stringify(value), this.clock()],
    );
  }

  /** Sets many keys in one statement (a bulk round writes thousands). */
  async setMany(entries: { key: string; value: unknown }[], tx: SqlExecutor = this.db): Promise<void> {
    if (entries.length === 0) return;
    // Last value wins for a key given twice, as with set() called in order.
    const byKey = new Map(entries.map((e) => [e.key, JSON.stringify(e.value)]));
    await tx.query(
      `INSERT INTO kv_state (key, value, updated_at) SELECT k, v::jsonb, $3 FROM unnest($1::text[], $2::text[]) AS t(k, v)
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at`,
      [[...byKey.keys()], [...byKey.values()], this.clock()],
    );
  }
}
