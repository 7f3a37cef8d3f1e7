import { z } from 'zod';
import type { SqlExecutor } from './database';
import type { Clock } from './clock';

const row = z.object({ list_id: z.string(), previous_status: z.coerce.number() });

/** The lists this product unsubscribed, with their previous status: all that R2's resubscribe option may undo. */
export class UnsubscribedListsStore {
  constructor(private readonly db: SqlExecutor, private readonly clock: Clock) {}

  async remember(acContactId: string, email: string, lists: { listId: string; previousStatus: number }[], tx: SqlExecutor = this.db): Promise<void> {
    if (lists.length === 0) return;
    await tx.query(
      `INSERT INTO lists_unsubscribed_by_us (ac_contact_id, list_id, email_norm, previous_status, unsubscribed_at)
         SELECT $1, l, $2, p, $5 FROM unnest($3::text[], $4::int[]) AS t(l, p)
       ON CONFLICT (ac_contact_id, list_id) DO NOTHING`,
      [acContactId, email.toLowerCase(), lists.map((l) => l.listId), lists.map((l) => l.previousStatus), this.clock()],
    );
  }

  /** remember() for many contacts in one statement (a bulk import round confirms thousands). */
  async rememberMany(entries: { acContactId: string; email: string; lists: { listId: string; previousStatus: number }[] }[], tx: SqlExecutor = this.db): Promise<void> {
    const rows = entries.flatMap((e) => e.lists.map((l) => ({ contact: e.acContactId, email: e.email.toLowerCase(), list: l.listId, previous: l.previousStatus })));
    if (rows.length === 0) return;
    await tx.query(
      `INSERT INTO lists_unsubscribed_by_us (ac_contact_id, list_id, email_norm, previous_status, unsubscribed_at)
         SELECT c, l, e, p, $5 FROM unnest($1::text[], $2::text[], $3::text[], $4::int[]) AS t(c, l, e, p)
       ON CONFLICT (ac_contact_id, list_id) DO NOTHING`,
      [rows.map((r) => r.contact), rows.map((r) => r.list), rows.map((r) => r.email), rows.map((r) => r.previous), this.clock()],
    );
  }

  async listFor(acContactId: string): Promise<{ listId: string; previousStatus: number }[]> {
    const result = await this.db.query(`SELECT list_id, previous_status FROM lists_unsubscribed_by_us WHERE ac_contact_id = $1 ORDER BY list_id`, [acContactId]);
    return result.rows.map((r) => row.parse(r)).map((r) => ({ listId: r.list_id, previousStatus: r.previous_status }));
  }

  async forget(acContactId: string, listIds: string[], tx: SqlExecutor = this.db): Promise<void> {
    await tx.query(`DELETE FROM lists_unsubscribed_by_us WHERE ac_contact_id = $1 AND list_id = ANY($2::text[])`, [acContactId, listIds]);
  }
}
