import { z } from 'zod';
import type { SqlExecutor } from './database';
import type { Clock } from './clock';

const row = z.object({ replay_id: z.string().nullable(), updated_at: z.coerce.date() });

/** Where each CometD channel resumes. Written only in the transaction that queues the event's work (DESIGN §2). */
export class ReplayCheckpointStore {
  constructor(private readonly db: SqlExecutor, private readonly clock: Clock) {}

  /**
   * The replay id to resume from: the last id whose messages were all handled. Before a second distinct id has been
   * seen that is unknown, and -2 (every retained event) is the only value that cannot skip the first group.
   */
  async load(channel: string): Promise<string | null> {
    return (await this.resumePoint(channel))?.replayId ?? null;
  }

  /**
   * load() with the time of the checkpoint's last write, read together: a resume from '-2' must know since when
   * its events may have been purged (the gap it records starts there).
   */
  async resumePoint(channel: string): Promise<{ replayId: string; updatedAt: Date } | null> {
    const result = await this.db.query(`SELECT replay_id, updated_at FROM replay_checkpoints WHERE channel = $1`, [channel]);
    if (result.rows[0] === undefined) return null;
    const stored = row.parse(result.rows[0]);
    return { replayId: stored.replay_id ?? '-2', updatedAt: stored.updated_at };
  }

  async save(tx: SqlExecutor, channel: string, replayId: string): Promise<void> {
    await tx.query(
      `INSERT INTO replay_checkpoints (channel, replay_id, last_seen_id, updated_at) VALUES ($1, NULL, $2, $3)
       ON CONFLICT (channel) DO UPDATE SET
         replay_id = CASE WHEN replay_checkpoints.last_seen_id = EXCLUDED.last_seen_id THEN replay_checkpoints.replay_id ELSE replay_checkpoints.last_seen_id END,
         last_seen_id = EXCLUDED.last_seen_id, updated_at = EXCLUDED.updated_at`,
      [channel, replayId, this.clock()],
    );
  }

  /** Records a window in which events may have been missed; reconcile closes it. */
  async recordGap(channel: string, reason: string, lostReplayId: string | null, since: Date | null): Promise<void> {
    await this.db.query(`INSERT INTO stream_gaps (channel, reason, lost_replay_id, since, detected_at) VALUES ($1, $2, $3, $4, $5)`, [
      channel,
      reason,
      lostReplayId,
      since,
      this.clock(),
    ]);
  }

  /**
   * recordGap, unless a gap of this channel from the same `since` is still open: that one's reconcile (not run yet,
   * or failing and retried) will cover the same window up to a moment no earlier than now, so a connection that
   * keeps reconnecting to the same resume point adds no rows. A closed one does not count: it covered the window
   * only up to its own query. Returns whether a row was written.
   */
  async recordGapUnlessOpen(channel: string, reason: string, lostReplayId: string | null, since: Date): Promise<boolean> {
    const result = await this.db.query(
      `INSERT INTO stream_gaps (channel, reason, lost_replay_id, since, detected_at)
       SELECT $1::text, $2::text, $3::text, $4::timestamptz, $5::timestamptz
       WHERE NOT EXISTS (SELECT 1 FROM stream_gaps WHERE channel = $1::text AND since = $4::timestamptz AND reconciled_at IS NULL)
       RETURNING id`,
      [channel, reason, lostReplayId, since, this.clock()],
    );
    return result.rows.length > 0;
  }

  /**
   * The newest moment up to which a closed gap of this channel and reason was certainly reconciled: its reconcile
   * queried after the gap was detected (openGaps reads committed rows), so its window reached at least detected_at.
   * Null when none was closed.
   */
  async reconciledThrough(channel: string, reason: string): Promise<Date | null> {
    const result = await this.db.query(`SELECT max(detected_at) AS at FROM stream_gaps WHERE channel = $1 AND reason = $2 AND reconciled_at IS NOT NULL`, [channel, reason]);
    return z.object({ at: z.coerce.date().nullable() }).parse(result.rows[0] ?? { at: null }).at;
  }

  /**
   * Notes that a channel subscribes with no checkpoint at all (new events only, -1). A process stopped before the
   * channel's first event stores no checkpoint and the next start would again subscribe at -1: what changed while it
   * was down is found from this moment.
   */
  async markUncheckpointedSubscribe(channel: string): Promise<void> {
    await this.db.query(
      `INSERT INTO uncheckpointed_subscribes (channel, subscribed_at) VALUES ($1, $2) ON CONFLICT (channel) DO UPDATE SET subscribed_at = EXCLUDED.subscribed_at`,
      [channel, this.clock()],
    );
  }

  /** The last markUncheckpointedSubscribe of a channel, null when none. */
  async lastUncheckpointedSubscribe(channel: string): Promise<Date | null> {
    const result = await this.db.query(`SELECT subscribed_at FROM uncheckpointed_subscribes WHERE channel = $1`, [channel]);
    return result.rows[0] === undefined ? null : z.object({ subscribed_at: z.coerce.date() }).parse(result.rows[0]).subscribed_at;
  }

  /** Gaps not yet closed by a successful reconcile, oldest first: durable work, retried until it succeeds. */
  async openGaps(): Promise<{ id: string; channel: string; reason: string; since: Date | null }[]> {
    const result = await this.db.query(`SELECT id, channel, reason, since FROM stream_gaps WHERE reconciled_at IS NULL ORDER BY id LIMIT 20`);
    return result.rows.map((r) => z.object({ id: z.coerce.string(), channel: z.string(), reason: z.string(), since: z.coerce.date().nullable() }).parse(r));
  }

  async closeGaps(ids: string[]): Promise<void> {
    await this.db.query(`UPDATE stream_gaps SET reconciled_at = $2 WHERE id = ANY($1::bigint[])`, [ids, this.clock()]);
  }

  /** Time of the last checkpoint write of a channel: the last moment we know we were in step. */
  async lastGoodAt(channel: string): Promise<Date | null> {
    const result = await this.db.query(`SELECT updated_at FROM replay_checkpoints WHERE channel = $1`, [channel]);
    return result.rows[0] === undefined ? null : z.object({ updated_at: z.coerce.date() }).parse(result.rows[0]).updated_at;
  }
}
