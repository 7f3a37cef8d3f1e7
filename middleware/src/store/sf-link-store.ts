import { z } from 'zod';
import type { SqlExecutor } from './database';
import type { Clock } from './clock';

export interface OptOutObservation {
  recordId: string;
  objectName: string;
  email: string;
  optedOut: boolean;
  /** When the value changed; null when unknown (a read of a record whose history we never saw). */
  changedAt: Date | null;
  /**
   * Set when the observation is our own write (after Salesforce answered): stamped in the same statement that may
   * create the record's row. A stream event processed before the row existed recorded no progress for it, and a
   * separate stamp could be lost (found by the chaos run: a dropped connection left the record "modified after
   * everything we know", and the next decision waited 60 s).
   */
  writtenAt?: Date;
}

const observedRow = z.object({ sf_record_id: z.string(), email_norm: z.string(), opted_out: z.boolean().nullable(), opt_out_changed_at: z.coerce.date().nullable(), written_at: z.coerce.date().nullable(), stream_seen_at: z.coerce.date().nullable(), email_changed_at: z.coerce.date().nullable().optional() });

/** Salesforce records we have seen, with the newest opt-out value and its time (R5's recency rule reads it). */
export class SfLinkStore {
  constructor(private readonly db: SqlExecutor, private readonly clock: Clock) {}

  async recordObservations(observations: OptOutObservation[], tx: SqlExecutor = this.db): Promise<void> {
    if (observations.length === 0) return;
    // Out-of-order delivery (replays, relay and CDC both on) must not let an older value overwrite a newer one.
    await tx.query(
      `INSERT INTO sf_ac_links (sf_record_id, sf_object, email_norm, opted_out, opt_out_changed_at, written_at, updated_at)
         SELECT DISTINCT ON (r) r, o, e, v, c, w, $7 FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[], $5::timestamptz[], $6::timestamptz[]) AS t(r, o, e, v, c, w)
         ORDER BY r, c DESC NULLS LAST
       ON CONFLICT (sf_record_id) DO UPDATE SET sf_object = EXCLUDED.sf_object, email_norm = EXCLUDED.email_norm,
         opted_out = EXCLUDED.opted_out, opt_out_changed_at = EXCLUDED.opt_out_changed_at, updated_at = EXCLUDED.updated_at,
         written_at = GREATEST(sf_ac_links.written_at, EXCLUDED.written_at)
       WHERE sf_ac_links.opt_out_changed_at IS NULL OR sf_ac_links.opt_out_changed_at <= EXCLUDED.opt_out_changed_at`,
      [
        observations.map((o) => o.recordId),
        observations.map((o) => o.objectName),
        observations.map((o) => o.email.toLowerCase()),
        observations.map((o) => o.optedOut),
        observations.map((o) => o.changedAt),
        observations.map((o) => o.writtenAt ?? null),
        this.clock(),
      ],
    );
  }

  /**
   * The newest commit time the stream delivered for each record, whatever the change (other fields, our own
   * writes): a LastModifiedDate up to it holds no change we have not seen. Records never observed stay absent.
   */
  async recordStreamProgress(touched: { recordId: string; at: Date }[], tx: SqlExecutor = this.db): Promise<void> {
    await this.keepNewest('stream_seen_at', touched, tx);
  }

  /** The commit time of an Email change queued for each record (R1 for its new address); the newest is kept. */
  async recordEmailChanges(changes: { recordId: string; at: Date }[], tx: SqlExecutor = this.db): Promise<void> {
    await this.keepNewest('email_changed_at', changes, tx);
  }

  /** Sets a time column of each record to the newest of its stored value and the given ones. */
  private async keepNewest(column: 'stream_seen_at' | 'email_changed_at', items: { recordId: string; at: Date }[], tx: SqlExecutor): Promise<void> {
    if (items.length === 0) return;
    await tx.query(
      `UPDATE sf_ac_links l SET ${column} = GREATEST(l.${column}, t.at)
         FROM (SELECT r, max(a) AS at FROM unnest($1::text[], $2::timestamptz[]) AS u(r, a) GROUP BY r) t
        WHERE l.sf_record_id = t.r`,
      [items.map((t) => t.recordId), items.map((t) => t.at)],
    );
  }

  /** When this product wrote these records (after Salesforce answered): explains their LastModifiedDate. */
  async recordOwnWrites(recordIds: string[], at: Date, tx: SqlExecutor = this.db): Promise<void> {
    if (recordIds.length === 0) return;
    await tx.query(`UPDATE sf_ac_links SET written_at = GREATEST(written_at, $2) WHERE sf_record_id = ANY($1::text[])`, [recordIds, at]);
  }

  /** The newest opt-out value and time observed per record, and our last write (records never observed are absent). */
  async lastObserved(recordIds: string[], tx: SqlExecutor = this.db): Promise<Map<string, { email: string; optedOut: boolean | null; changedAt: Date | null; writtenAt: Date | null; streamSeenAt: Date | null; emailChangedAt: Date | null }>> {
    if (recordIds.length === 0) return new Map();
    const result = await tx.query(`SELECT sf_record_id, email_norm, opted_out, opt_out_changed_at, written_at, stream_seen_at, email_changed_at FROM sf_ac_links WHERE sf_record_id = ANY($1::text[])`, [recordIds]);
    return new Map(
      result.rows.map((raw) => {
        const r = observedRow.parse(raw);
        return [r.sf_record_id, { email: r.email_norm, optedOut: r.opted_out, changedAt: r.opt_out_changed_at, writtenAt: r.written_at, streamSeenAt: r.stream_seen_at, emailChangedAt: r.email_changed_at ?? null }];
      }),
    );
  }
}

