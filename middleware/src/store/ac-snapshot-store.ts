import { z } from 'zod';
import type { SqlExecutor } from './database';
import type { Clock } from './clock';

/** The last ActiveCampaign state the reverse path saw of a contact: list id -> status (0..3), bounce state. */
export interface AcSnapshot {
  acContactId: string;
  email: string;
  listStatuses: Record<string, number>;
  hardBounced: boolean;
  acUpdatedAt: Date | null;
  /** The newest unsubscribe date among the lists left, as AC gave it; null when unknown. */
  lastUnsubscribedAt?: Date | null;
  /** A re-subscribe seen before any delivery said who made it (R5 waits for its source: sync/subscribe-source.ts). */
  awaitingSubscribe?: AwaitingSubscribe | null;
  /** When the middleware last recorded this state (read back only; writes stamp it themselves). */
  seenAt?: Date;
  /** When a read last showed a list active that the snapshot before did not (read back only; upsertMany stamps it). */
  joinedSeenAt?: Date | null;
  /** The newest subscribe date (sdate) of the lists the contact is on, by AC; stored values only grow (see upsertMany). */
  lastSubscribedAt?: Date | null;
  /**
   * Written only: whether a list the contact is on (active or unconfirmed) has no subscribe date from AC. Only such a
   * list makes a first or new sighting a join of unknown date (joinedSeenAt); a dated one is in lastSubscribedAt.
   * Left out, every active list counts as undated (the cautious reading).
   */
  hasUndatedActiveList?: boolean;
}

export interface AwaitingSubscribe {
  at: Date;
  lists: string[];
}

const snapshotRow = z.object({
  ac_contact_id: z.string(),
  email_norm: z.string(),
  list_statuses: z.record(z.string(), z.number().int().min(0).max(3)),
  hard_bounced: z.boolean(),
  ac_updated_at: z.coerce.date().nullable(),
  last_unsubscribed_at: z.coerce.date().nullable().optional(),
  awaiting_subscribe: z.object({ at: z.coerce.date(), lists: z.array(z.string()) }).nullable().optional(),
  seen_at: z.coerce.date(),
  joined_seen_at: z.coerce.date().nullable().optional(),
  last_subscribed_at: z.coerce.date().nullable().optional(),
});

function fromRow(raw: unknown): AcSnapshot {
  const r = snapshotRow.parse(raw);
  return { acContactId: r.ac_contact_id, email: r.email_norm, listStatuses: r.list_statuses, hardBounced: r.hard_bounced, acUpdatedAt: r.ac_updated_at, lastUnsubscribedAt: r.last_unsubscribed_at ?? null, awaitingSubscribe: r.awaiting_subscribe ?? null, seenAt: r.seen_at, joinedSeenAt: r.joined_seen_at ?? null, lastSubscribedAt: r.last_subscribed_at ?? null };
}

export class AcSnapshotStore {
  constructor(private readonly db: SqlExecutor, private readonly clock: Clock) {}

  async getMany(acContactIds: string[], tx: SqlExecutor = this.db): Promise<Map<string, AcSnapshot>> {
    if (acContactIds.length === 0) return new Map();
    const result = await tx.query(`SELECT * FROM ac_contact_snapshots WHERE ac_contact_id = ANY($1::text[]) FOR UPDATE`, [acContactIds]);
    return new Map(result.rows.map(fromRow).map((s) => [s.acContactId, s]));
  }

  async findByEmail(email: string): Promise<AcSnapshot | null> {
    const result = await this.db.query(`SELECT * FROM ac_contact_snapshots WHERE email_norm = $1 ORDER BY seen_at DESC LIMIT 1`, [email.toLowerCase()]);
    return result.rows[0] === undefined ? null : fromRow(result.rows[0]);
  }

  /** The newest snapshot of each email, in one query. */
  async findByEmails(emails: string[]): Promise<Map<string, AcSnapshot>> {
    if (emails.length === 0) return new Map();
    const result = await this.db.query(
      `SELECT DISTINCT ON (email_norm) * FROM ac_contact_snapshots WHERE email_norm = ANY($1::text[]) ORDER BY email_norm, seen_at DESC`,
      [emails.map((e) => e.toLowerCase())],
    );
    return new Map(result.rows.map(fromRow).map((s) => [s.email, s]));
  }

  async upsertMany(snapshots: AcSnapshot[], tx: SqlExecutor = this.db): Promise<void> {
    if (snapshots.length === 0) return;
    await tx.query(
      // joined_seen_at: when a read shows a join AC gives no date for. A first sighting counts when an active list is
      // undated; after that, a list active now and not in the row being replaced, when the read has an undated active
      // list (which of its lists is undated the row does not keep: cautious). A dated join needs no sighting: its
      // sdate is in last_subscribed_at, and the single path judges by the same sdate (bench:reconcile: every contact
      // first read after its opt-out took the single path, 3 requests a person). last_subscribed_at only grows: a
      // state we wrote ourselves carries no dates, and a join that came and went between two reads must not be
      // forgotten.
      `INSERT INTO ac_contact_snapshots (ac_contact_id, email_norm, list_statuses, hard_bounced, ac_updated_at, last_unsubscribed_at, awaiting_subscribe, seen_at, joined_seen_at, last_subscribed_at)
         SELECT i, e, l, b, u, lu, w, $8,
                CASE WHEN un AND EXISTS (SELECT 1 FROM jsonb_each_text(l) AS n WHERE n.value IN ('0', '1')) THEN $8::timestamptz END, ls
           FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::boolean[], $5::timestamptz[], $6::timestamptz[], $7::jsonb[], $9::timestamptz[], $10::boolean[]) AS t(i, e, l, b, u, lu, w, ls, un)
       ON CONFLICT (ac_contact_id) DO UPDATE SET email_norm = EXCLUDED.email_norm, list_statuses = EXCLUDED.list_statuses,
         hard_bounced = EXCLUDED.hard_bounced, ac_updated_at = EXCLUDED.ac_updated_at, last_unsubscribed_at = EXCLUDED.last_unsubscribed_at,
         awaiting_subscribe = EXCLUDED.awaiting_subscribe, seen_at = EXCLUDED.seen_at,
         last_subscribed_at = GREATEST(ac_contact_snapshots.last_subscribed_at, EXCLUDED.last_subscribed_at),
         joined_seen_at = CASE
           WHEN EXCLUDED.joined_seen_at IS NOT NULL AND EXISTS (SELECT 1 FROM jsonb_each_text(EXCLUDED.list_statuses) AS n
                         WHERE n.value IN ('0', '1') AND coalesce(ac_contact_snapshots.list_statuses ->> n.key, '') NOT IN ('0', '1'))
           THEN EXCLUDED.seen_at ELSE ac_contact_snapshots.joined_seen_at END`,
      [
        snapshots.map((s) => s.acContactId),
        snapshots.map((s) => s.email.toLowerCase()),
        snapshots.map((s) => JSON.stringify(s.listStatuses)),
        snapshots.map((s) => s.hardBounced),
        snapshots.map((s) => s.acUpdatedAt),
        snapshots.map((s) => s.lastUnsubscribedAt ?? null),
        snapshots.map((s) => (s.awaitingSubscribe === undefined || s.awaitingSubscribe === null ? null : JSON.stringify(s.awaitingSubscribe))),
        this.clock(),
        snapshots.map((s) => s.lastSubscribedAt ?? null),
        snapshots.map((s) => s.hasUndatedActiveList ?? true),
      ],
    );
  }

  async count(): Promise<number> {
    const result = await this.db.query(`SELECT count(*) AS n FROM ac_contact_snapshots`);
    return z.object({ n: z.coerce.number() }).parse(result.rows[0]).n;
  }
}
