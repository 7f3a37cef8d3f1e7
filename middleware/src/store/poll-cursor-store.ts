import { z } from 'zod';
import type { SqlExecutor } from './database';
import type { Clock } from './clock';

export interface PollCursor {
  at: Date;
  id: string | null;
}

const row = z.object({ cursor_at: z.coerce.date(), cursor_id: z.string().nullable() });

/** Position of a poller; advanced only after the page it covers has been durably handled. */
export class PollCursorStore {
  constructor(private readonly db: SqlExecutor, private readonly clock: Clock) {}

  async load(name: string): Promise<PollCursor | null> {
    const result = await this.db.query(`SELECT cursor_at, cursor_id FROM poll_cursors WHERE name = $1`, [name]);
    if (result.rows[0] === undefined) return null;
    const r = row.parse(result.rows[0]);
    return { at: r.cursor_at, id: r.cursor_id };
  }

  async save(name: string, cursor: PollCursor, tx: SqlExecutor = this.db): Promise<void> {
    await tx.query(
      `INSERT INTO poll_cursors (name, cursor_at, cursor_id, updated_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (name) DO UPDATE SET cursor_at = EXCLUDED.cursor_at, cursor_id = EXCLUDED.cursor_id, updated_at = EXCLUDED.updated_at`,
      [name, cursor.at, cursor.id, this.clock()],
    );
  }
}
