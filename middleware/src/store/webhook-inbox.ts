import { z } from 'zod';
import type { SqlExecutor } from './database';
import type { Clock } from './clock';

const pendingRow = z.object({ id: z.coerce.string(), payload: z.unknown(), received_at: z.coerce.date() });

/** Accepted webhook deliveries, stored before the 200 reply because AC never retries a delivery. */
export class WebhookInbox {
  constructor(private readonly db: SqlExecutor, private readonly clock: Clock) {}

  /**
   * Returns false for a duplicate of a delivery still pending, which is then harmless. A delivery identical to one
   * already processed rings again: a delivery is a doorbell, and AC stamps whole seconds, so a person who leaves a
   * list, joins it and leaves it again within a second sends the same bytes twice, and the second must be looked at.
   */
  async accept(dedupeKey: string, payload: unknown): Promise<boolean> {
    const result = await this.db.query(
      `INSERT INTO webhook_inbox (dedupe_key, payload, received_at) VALUES ($1, $2, $3)
       ON CONFLICT (dedupe_key) DO UPDATE SET processed_at = NULL, received_at = EXCLUDED.received_at
         WHERE webhook_inbox.processed_at IS NOT NULL
       RETURNING id`,
      [dedupeKey, JSON.stringify(payload), this.clock()],
    );
    return result.rows.length > 0;
  }

  async pending(limit: number): Promise<{ id: string; payload: unknown; receivedAt: Date }[]> {
    const result = await this.db.query(`SELECT id, payload, received_at FROM webhook_inbox WHERE processed_at IS NULL ORDER BY id LIMIT $1`, [limit]);
    return result.rows.map((r) => {
      const row = pendingRow.parse(r);
      return { id: row.id, payload: row.payload, receivedAt: row.received_at };
    });
  }

  async markProcessed(ids: string[], tx: SqlExecutor = this.db): Promise<void> {
    await tx.query(`UPDATE webhook_inbox SET processed_at = $2 WHERE id = ANY($1::bigint[])`, [ids, this.clock()]);
  }
}
