import { z } from 'zod';
import type { SqlExecutor } from './database';
import type { Clock } from './clock';

export type AuditDirection = 'sf_to_ac' | 'ac_to_sf' | 'internal';

/** One decision (R8): when, which record/email, which direction, old -> new, why, result. */
export interface AuditEntry {
  direction: AuditDirection;
  email: string | null;
  recordId?: string | null;
  acContactId?: string | null;
  oldValue?: string | null;
  newValue?: string | null;
  decision: string;
  reason: string;
  result: string;
  correlation?: Record<string, string | number | boolean | null>;
}

const auditRow = z.object({
  id: z.coerce.string(),
  occurred_at: z.coerce.date(),
  direction: z.enum(['sf_to_ac', 'ac_to_sf', 'internal']),
  email_norm: z.string().nullable(),
  record_id: z.string().nullable(),
  ac_contact_id: z.string().nullable(),
  old_value: z.string().nullable(),
  new_value: z.string().nullable(),
  decision: z.string(),
  reason: z.string(),
  result: z.string(),
  correlation: z.record(z.string(), z.unknown()),
}).transform((r) => ({
  id: r.id,
  occurredAt: r.occurred_at,
  direction: r.direction,
  email: r.email_norm,
  recordId: r.record_id,
  acContactId: r.ac_contact_id,
  oldValue: r.old_value,
  newValue: r.new_value,
  decision: r.decision,
  reason: r.reason,
  result: r.result,
  correlation: r.correlation,
}));
export type AuditRecord = z.output<typeof auditRow>;

export class AuditLog {
  constructor(private readonly db: SqlExecutor, private readonly clock: Clock) {}

  /** Writes many entries in one statement (a bulk sync decides thousands at once). */
  async record(entries: AuditEntry[], tx: SqlExecutor = this.db): Promise<void> {
    if (entries.length === 0) return;
    const now = this.clock();
    await tx.query(
      `INSERT INTO audit_log (occurred_at, direction, email_norm, record_id, ac_contact_id, old_value, new_value, decision, reason, result, correlation)
       SELECT $1, d, e, r, a, o, n, dec, rea, res, c FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::jsonb[])
         AS t(d, e, r, a, o, n, dec, rea, res, c)`,
      [
        now,
        entries.map((e) => e.direction),
        entries.map((e) => (e.email === null ? null : e.email.toLowerCase())),
        entries.map((e) => e.recordId ?? null),
        entries.map((e) => e.acContactId ?? null),
        entries.map((e) => e.oldValue ?? null),
        entries.map((e) => e.newValue ?? null),
        entries.map((e) => e.decision),
        entries.map((e) => e.reason),
        entries.map((e) => e.result),
        entries.map((e) => JSON.stringify(e.correlation ?? {})),
      ],
    );
  }

  async historyForEmail(email: string, limit = 200): Promise<AuditRecord[]> {
    const result = await this.db.query(`SELECT * FROM audit_log WHERE email_norm = $1 ORDER BY id DESC LIMIT $2`, [email.toLowerCase(), limit]);
    return result.rows.map((r) => auditRow.parse(r));
  }

  async latest(limit = 50, direction?: AuditDirection): Promise<AuditRecord[]> {
    const result = await this.db.query(
      `SELECT * FROM audit_log WHERE ($1::text IS NULL OR direction = $1) ORDER BY id DESC LIMIT $2`,
      [direction ?? null, limit],
    );
    return result.rows.map((r) => auditRow.parse(r));
  }
}
