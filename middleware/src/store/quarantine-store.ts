import { z } from 'zod';
import type { SqlExecutor } from './database';
import type { Clock } from './clock';

/** Largest raw input kept; a 10 MB garbage body must not fill the database. */
const MAX_RAW_CHARS = 64 * 1024;

const quarantineRow = z.object({ id: z.coerce.string(), source: z.string(), reason: z.string(), raw: z.string(), received_at: z.coerce.date() });
export type QuarantinedInput = z.infer<typeof quarantineRow>;

/** Bad input is kept with the reason it was refused, never silently dropped. */
export class QuarantineStore {
  constructor(private readonly db: SqlExecutor, private readonly clock: Clock) {}

  async put(source: string, reason: string, raw: unknown, tx: SqlExecutor = this.db): Promise<void> {
    let text: string;
    try {
      text = typeof raw === 'string' ? raw : JSON.stringify(raw) ?? String(raw);
    } catch {
      text = String(raw);
    }
    text = storableText(text);
    if (text.length > MAX_RAW_CHARS) text = `${text.slice(0, MAX_RAW_CHARS).toWellFormed()}… [truncated from ${text.length} chars]`;
    await tx.query(`INSERT INTO quarantine (source, reason, raw, received_at) VALUES ($1, $2, $3, $4)`, [storableText(source), storableText(reason.slice(0, 2000)), text, this.clock()]);
  }

  async list(limit = 100): Promise<QuarantinedInput[]> {
    const result = await this.db.query(`SELECT * FROM quarantine ORDER BY id DESC LIMIT $1`, [limit]);
    return result.rows.map((r) => quarantineRow.parse(r));
  }
}

/**
 * PostgreSQL text cannot hold NUL and the driver cannot encode lone surrogates: both are made visible instead
 * (bad input is exactly what the quarantine keeps, so it must never be refused here).
 */
export function storableText(text: string): string {
  return text.split(String.fromCharCode(0)).join('\\u0000').toWellFormed();
}
