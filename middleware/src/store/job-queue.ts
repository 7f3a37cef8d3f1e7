// The durable work queue. A job means "bring this subject (an email) in line"; at most one job per (kind, subject)
// waits in the queue, and a newer change merges into it (DESIGN §2: a later change supersedes a queued earlier one,
// but a merge may keep obligations of the earlier one, e.g. a pending opt-out). Jobs of one subject never run in
// parallel. Claims use FOR UPDATE SKIP LOCKED so that several instances can work the same queue.
// Why not pg-boss: its singleton keys reject a second job instead of merging into the queued one, and per-subject
// ordering would still need this table; what remains (claim, back-off, dead letter) is a few statements.
import { z } from 'zod';
import type { Database, SqlExecutor } from './database';
import type { Clock } from './clock';

export interface JobKind<P> {
  name: string;
  payload: z.ZodType<P>;
  /** Combines a queued payload with a newer one; must be associative so that order of merging never matters. */
  merge(queued: P, incoming: P): P;
}

export interface ClaimedJob<P> {
  id: string;
  subject: string;
  payload: P;
  attempts: number;
  /** When the work was first queued (kept through merges and retries): how long it has been waiting. */
  createdAt: Date;
}

export interface DeadLetter {
  id: string;
  jobId: string;
  kind: string;
  subject: string;
  payload: unknown;
  attempts: number;
  lastError: string;
  failedAt: Date;
  retriedAt: Date | null;
}

const claimedRow = z.object({ id: z.coerce.string(), subject: z.string(), payload: z.unknown(), attempts: z.coerce.number(), created_at: z.coerce.date() });
const queuedRow = z.object({ id: z.coerce.string(), subject: z.string(), payload: z.unknown() });
const deadLetterRow = z.object({
  id: z.coerce.string(),
  job_id: z.coerce.string(),
  kind: z.string(),
  subject: z.string(),
  payload: z.unknown(),
  attempts: z.coerce.number(),
  last_error: z.string(),
  failed_at: z.coerce.date(),
  retried_at: z.coerce.date().nullable(),
});
const countRow = z.object({ kind: z.string(), state: z.string(), n: z.coerce.number() });

export interface RetryPolicy {
  /** Attempts before work that may die (not an opt-out) is dead-lettered for a transient cause, once retryWindowMs has passed too. */
  maxAttempts: number;
  backoffBaseMs: number;
  /** Upper bound of one delay. */
  backoffCapMs?: number;
  /** How long work that may die keeps retrying transient and credential failures (default 7 days). */
  retryWindowMs?: number;
  random?: () => number;
}

/** What a failed attempt was, as far as the queue must know to decide between a retry and a dead letter. */
export interface FailureOutcome {
  /** transient and credentials retry; permanent (this record or request will always fail) is dead-lettered at once. */
  failureClass: 'transient' | 'credentials' | 'permanent';
  /**
   * The job carries an opt-out (an R1 push, an R3/R4 write): it never dies of a transient or credential cause,
   * however long the outage. Its retries are capped at backoffCapMs apart and go on until the vendor answers.
   */
  keepsOptOut: boolean;
  /** The vendor asked for at least this delay (Retry-After). */
  minimumDelayMs?: number;
}

export const DEFAULT_RETRY_WINDOW_MS = 7 * 24 * 3600_000;

/** Exponential back-off with full jitter (AWS architecture blog): spreads retries of many workers apart. */
export function backoffDelayMs(attempt: number, policy: RetryPolicy, minimumMs = 0): number {
  const cap = policy.backoffCapMs ?? 300_000;
  const ceiling = Math.min(cap, policy.backoffBaseMs * 2 ** Math.max(0, attempt - 1));
  const random = policy.random ?? Math.random;
  return Math.max(minimumMs, Math.round(random() * ceiling));
}

/**
 * How long a recovering instance holds the expired jobs it took over while it requeues them (milliseconds each).
 * Short: if it dies or loses the database meanwhile, another instance takes them over again, and a requeue by an
 * instance that no longer holds a job changes nothing.
 */
const RECOVERY_LEASE_MS = 10_000;

export class JobQueue {
  /**
   * Jobs this process claimed and is still working on: only their leases are renewed. A round that died half-way
   * (a dropped database connection in its error handling) lets its jobs go, and they return to the queue when the
   * lease runs out. Renewing every job locked by this worker kept such a job running forever (found by the chaos
   * run: an opt-out never reached ActiveCampaign).
   */
  private readonly held = new Set<string>();

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly workerId: string,
  ) {}

  /**
   * Queues (subject, payload) pairs inside the caller's transaction, merging into queued jobs of the same subject.
   * Batched: one select and at most one insert/update round per call, because a merged CDC event can carry
   * thousands of record ids and PGlite costs about a millisecond per statement.
   */
  async enqueue<P>(tx: SqlExecutor, kind: JobKind<P>, items: { subject: string; payload: P }[], runAfter?: Date): Promise<void> {
    let pending = mergeBySubject(kind, items);
    const when = runAfter ?? this.clock();
    for (let round = 0; pending.size > 0; round++) {
      if (round > 5) throw new Error(`could not enqueue ${kind.name} jobs: concurrent writers kept conflicting`);
      const subjects = [...pending.keys()];
      const existing = await tx.query(
        `SELECT id, subject, payload FROM jobs WHERE kind = $1 AND state = 'queued' AND subject = ANY($2::text[]) FOR UPDATE`,
        [kind.name, subjects],
      );
      const updates: { id: string; payload: P }[] = [];
      for (const row of existing.rows.map((r) => queuedRow.parse(r))) {
        const incoming = pending.get(row.subject);
        if (incoming === undefined) continue;
        updates.push({ id: row.id, payload: kind.merge(kind.payload.parse(row.payload), incoming) });
        pending.delete(row.subject);
      }
      if (updates.length > 0) {
        await tx.query(
          `UPDATE jobs SET payload = u.payload, updated_at = $3
             FROM unnest($1::bigint[], $2::jsonb[]) AS u(id, payload) WHERE jobs.id = u.id`,
          [updates.map((u) => u.id), updates.map((u) => JSON.stringify(u.payload)), this.clock()],
        );
      }
      if (pending.size === 0) break;
      const inserted = await tx.query(
        `INSERT INTO jobs (kind, subject, payload, run_after, created_at, updated_at)
           SELECT $1, s, p, $4, $4, $4 FROM unnest($2::text[], $3::jsonb[]) AS i(s, p)
         ON CONFLICT (kind, subject) WHERE state = 'queued' DO NOTHING
         RETURNING subject`,
        [kind.name, [...pending.keys()], [...pending.values()].map((p) => JSON.stringify(p)), when],
      );
      for (const row of inserted.rows) pending.delete(z.object({ subject: z.string() }).parse(row).subject);
      pending = new Map(pending);
    }
  }

  /** Takes up to `limit` ready jobs of a kind whose subject has no running job, leasing them for leaseMs. */
  async claim<P>(kind: JobKind<P>, limit: number, leaseMs: number): Promise<ClaimedJob<P>[]> {
    const now = this.clock();
    const result = await this.db.query(
      `UPDATE jobs SET state = 'running', locked_by = $3, locked_until = $4, attempts = attempts + 1, updated_at = $5
        WHERE id IN (
          SELECT j.id FROM jobs j
           WHERE j.kind = $1 AND j.state = 'queued' AND j.run_after <= $5
             -- NOT IN over one hashed list of running subjects, not a correlated NOT EXISTS: PGlite never runs
             -- ANALYZE (no autovacuum), and on a table without statistics the planner turned NOT EXISTS into a loop
             -- over every running job for every queued one (4-5 s to claim 2,500 of 10,000; this stays ~40 ms).
             AND j.subject NOT IN (SELECT r.subject FROM jobs r WHERE r.kind = $1 AND r.state = 'running')
           ORDER BY j.run_after, j.id
           LIMIT $2
           FOR UPDATE SKIP LOCKED)
        RETURNING id, subject, payload, attempts, created_at`,
      [kind.name, limit, this.workerId, new Date(now.getTime() + leaseMs), now],
    );
    const jobs: ClaimedJob<P>[] = [];
    for (const raw of result.rows) {
      const row = claimedRow.parse(raw);
      const payload = kind.payload.safeParse(row.payload);
      if (payload.success) {
        jobs.push({ id: row.id, subject: row.subject, payload: payload.data, attempts: row.attempts, createdAt: row.created_at });
        this.held.add(row.id);
      } else {
        // A row this version cannot read (hand-edited, or written by a newer version) goes to the dead letters
        // with the reason instead of blocking the queue.
        await this.deadLetter(row.id, `unreadable payload: ${z.prettifyError(payload.error)}`);
      }
    }
    return jobs;
  }

  /**
   * The job's work is done: it leaves the queue (the audit log keeps the history). Only while this worker still
   * holds it: a job whose lease another instance took back may have merged newer work since, which must run.
   */
  async complete(jobId: string, tx: SqlExecutor = this.db): Promise<void> {
    try {
      await tx.query(`DELETE FROM jobs WHERE id = $1 AND state = 'running' AND locked_by = $2`, [jobId, this.workerId]);
    } finally {
      this.held.delete(jobId);
    }
  }

  async completeMany(jobIds: string[], tx: SqlExecutor = this.db): Promise<void> {
    try {
      if (jobIds.length > 0) await tx.query(`DELETE FROM jobs WHERE id = ANY($1::bigint[]) AND state = 'running' AND locked_by = $2`, [jobIds, this.workerId]);
    } finally {
      for (const id of jobIds) this.held.delete(id);
    }
  }

  /**
   * The worker stops working on these jobs without an outcome (its round failed): their leases are no longer
   * renewed, so they return to the queue when they run out. A no-op for jobs already completed or requeued.
   */
  letGo(jobs: { id: string }[]): void {
    for (const job of jobs) this.held.delete(job.id);
  }

  /**
   * Schedules a retry after a back-off, or moves the job to the dead letters. Only a permanent failure, or work that
   * may die (not an opt-out) still failing after maxAttempts and the retry window, is dead-lettered: an outage or a
   * rotated token of any length costs opt-outs a delay, never their delivery. 'not held' when another instance took
   * the job back meanwhile (its lease ran out): nothing changed, and the job runs again there.
   */
  async fail<P>(kind: JobKind<P>, job: ClaimedJob<P>, error: string, policy: RetryPolicy, outcome: FailureOutcome): Promise<'retry' | 'dead' | 'not held'> {
    if (shouldDeadLetter(job, policy, outcome, this.clock())) return (await this.deadLetter(job.id, `${outcome.failureClass}: ${error}`)) ? 'dead' : 'not held';
    const runAfter = new Date(this.clock().getTime() + backoffDelayMs(job.attempts, policy, outcome.minimumDelayMs ?? 0));
    return (await this.requeue(kind, job, runAfter, `${outcome.failureClass}: ${error}`)) ? 'retry' : 'not held';
  }

  /**
   * Puts a running job back in the queue. If a newer job for the subject was queued meanwhile, the two merge
   * (the running one's obligations are kept) and the retry waits for the later of both times. A no-op when this
   * worker no longer holds the job (its lease was taken back): whoever holds it now decides its fate.
   */
  async requeue<P>(kind: JobKind<P>, job: ClaimedJob<P>, runAfter: Date, error: string | null, attemptsUsed = job.attempts): Promise<boolean> {
    this.held.delete(job.id);
    return this.db.transaction(async (tx) => {
      if (!(await this.stillHolds(tx, job.id))) return false;
      const queued = await tx.query(
        `SELECT id, subject, payload FROM jobs WHERE kind = $1 AND subject = $2 AND state = 'queued' AND id <> $3 FOR UPDATE`,
        [kind.name, job.subject, job.id],
      );
      const row = queued.rows[0] === undefined ? undefined : queuedRow.parse(queued.rows[0]);
      if (row === undefined) {
        await tx.query(
          `UPDATE jobs SET state = 'queued', run_after = $2, last_error = $3, attempts = $4, locked_by = NULL,
                  locked_until = NULL, updated_at = $5 WHERE id = $1`,
          [job.id, runAfter, error, attemptsUsed, this.clock()],
        );
        return true;
      }
      const merged = kind.merge(job.payload, kind.payload.parse(row.payload));
      await tx.query(
        `UPDATE jobs SET payload = $2, run_after = GREATEST(run_after, $3), last_error = $4, attempts = $5, updated_at = $6,
                created_at = LEAST(created_at, (SELECT created_at FROM jobs WHERE id = $7)) WHERE id = $1`,
        [row.id, JSON.stringify(merged), runAfter, error, attemptsUsed, this.clock(), job.id],
      );
      await tx.query(`DELETE FROM jobs WHERE id = $1`, [job.id]);
      return true;
    });
  }

  /**
   * Extends the leases of every job this worker holds. Leases are short and renewed while the worker lives, so a
   * killed worker's jobs return to the queue within one lease rather than after a long fixed one.
   */
  async renewLeases(leaseMs: number): Promise<number> {
    if (this.held.size === 0) return 0;
    const result = await this.db.query(`UPDATE jobs SET locked_until = $1 WHERE state = 'running' AND locked_by = $2 AND id = ANY($3::bigint[])`, [
      new Date(this.clock().getTime() + leaseMs),
      this.workerId,
      [...this.held],
    ]);
    return result.rowCount;
  }

  /**
   * Jobs whose lease ran out belong to a dead worker (SIGKILL, lost connection): back to the queue. Every live
   * instance does this, so the expired jobs are first taken over in one statement (a concurrent recovery re-checks
   * the lease and skips them): two instances requeueing the same job lost it once (found by the chaos run).
   */
  async recoverExpiredLeases<P>(kind: JobKind<P>): Promise<number> {
    const now = this.clock();
    const expired = await this.db.query(
      `UPDATE jobs SET locked_by = $3, locked_until = $4
        WHERE id IN (SELECT id FROM jobs WHERE kind = $1 AND state = 'running' AND locked_until < $2 FOR UPDATE SKIP LOCKED)
        RETURNING id, subject, payload, attempts, created_at`,
      [kind.name, now, this.workerId, new Date(now.getTime() + RECOVERY_LEASE_MS)],
    );
    let recovered = 0;
    for (const raw of expired.rows) {
      const row = claimedRow.parse(raw);
      const payload = kind.payload.safeParse(row.payload);
      if (!payload.success) {
        await this.deadLetter(row.id, `unreadable payload: ${z.prettifyError(payload.error)}`);
        continue;
      }
      await this.requeue(kind, { id: row.id, subject: row.subject, attempts: row.attempts, createdAt: row.created_at, payload: payload.data }, this.clock(), 'lease expired (worker stopped)');
      recovered++;
    }
    return recovered;
  }

  private async deadLetter(jobId: string, error: string): Promise<boolean> {
    this.held.delete(jobId);
    return this.db.transaction(async (tx) => {
      if (!(await this.stillHolds(tx, jobId))) return false;
      await tx.query(
        `INSERT INTO dead_letters (job_id, kind, subject, payload, attempts, last_error, failed_at)
           SELECT id, kind, subject, payload, attempts, $2, $3 FROM jobs WHERE id = $1`,
        [jobId, error, this.clock()],
      );
      await tx.query(`DELETE FROM jobs WHERE id = $1`, [jobId]);
      return true;
    });
  }

  /**
   * A dead letter for part of a running job (one Salesforce record of its email that the org refuses for good) while
   * the job itself goes on to complete: retrying the letter queues the whole subject again, which rewrites nothing
   * already in line. A letter with the same error, not yet retried, is not repeated; false when none was added.
   */
  async deadLetterPart<P>(tx: SqlExecutor, kind: JobKind<P>, job: ClaimedJob<P>, error: string): Promise<boolean> {
    const inserted = await tx.query(
      `INSERT INTO dead_letters (job_id, kind, subject, payload, attempts, last_error, failed_at)
         SELECT $1, $2, $3, $4, $5, $6, $7
          WHERE NOT EXISTS (SELECT 1 FROM dead_letters WHERE kind = $2 AND subject = $3 AND last_error = $6 AND retried_at IS NULL)`,
      [job.id, kind.name, job.subject, JSON.stringify(job.payload), job.attempts, error, this.clock()],
    );
    return inserted.rowCount > 0;
  }

  /** Locks the job if this worker still holds it (running under its lock); false when its lease was taken back. */
  private async stillHolds(tx: SqlExecutor, jobId: string): Promise<boolean> {
    const mine = await tx.query(`SELECT id FROM jobs WHERE id = $1 AND state = 'running' AND locked_by = $2 FOR UPDATE`, [jobId, this.workerId]);
    return mine.rows.length > 0;
  }

  async listDeadLetters(options: { includeRetried?: boolean; limit?: number } = {}): Promise<DeadLetter[]> {
    const result = await this.db.query(
      `SELECT * FROM dead_letters WHERE ($1::boolean OR retried_at IS NULL) ORDER BY id DESC LIMIT $2`,
      [options.includeRetried ?? false, options.limit ?? 100],
    );
    return result.rows.map((raw) => {
      const r = deadLetterRow.parse(raw);
      return { id: r.id, jobId: r.job_id, kind: r.kind, subject: r.subject, payload: r.payload, attempts: r.attempts, lastError: r.last_error, failedAt: r.failed_at, retriedAt: r.retried_at };
    });
  }

  /** Sends a dead letter of this kind back to the queue; false when there is no such unretried letter of the kind. */
  async retryDeadLetter<P>(kind: JobKind<P>, deadLetterId: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const found = await tx.query(`SELECT * FROM dead_letters WHERE id = $1 AND kind = $2 AND retried_at IS NULL FOR UPDATE`, [deadLetterId, kind.name]);
      if (found.rows[0] === undefined) return false;
      const letter = deadLetterRow.parse(found.rows[0]);
      await this.enqueue(tx, kind, [{ subject: letter.subject, payload: kind.payload.parse(letter.payload) }]);
      await tx.query(`UPDATE dead_letters SET retried_at = $2 WHERE id = $1`, [deadLetterId, this.clock()]);
      return true;
    });
  }

  /** Closes dead letters that were judged and need no retry (the reconciliation found them in step or superseded). */
  async closeDeadLetters(ids: string[], tx: SqlExecutor = this.db): Promise<void> {
    if (ids.length > 0) await tx.query(`UPDATE dead_letters SET retried_at = $2 WHERE id = ANY($1::bigint[]) AND retried_at IS NULL`, [ids, this.clock()]);
  }

  async counts(): Promise<{ kind: string; state: string; n: number }[]> {
    const result = await this.db.query(`SELECT kind, state, count(*) AS n FROM jobs GROUP BY kind, state
      UNION ALL SELECT kind, 'dead', count(*) FROM dead_letters WHERE retried_at IS NULL GROUP BY kind`);
    return result.rows.map((r) => countRow.parse(r));
  }

  /** How many jobs of a kind are ready, and since when the oldest of them has been waiting. */
  async readySummary(kindName: string): Promise<{ count: number; oldestQueuedAt: Date | null; newestQueuedAt: Date | null }> {
    const result = await this.db.query(
      `SELECT count(*) AS n, min(created_at) AS oldest, max(created_at) AS newest FROM jobs WHERE kind = $1 AND state = 'queued' AND run_after <= $2`,
      [kindName, this.clock()],
    );
    const row = z.object({ n: z.coerce.number(), oldest: z.coerce.date().nullable(), newest: z.coerce.date().nullable() }).parse(result.rows[0]);
    return { count: row.n, oldestQueuedAt: row.oldest, newestQueuedAt: row.newest };
  }

  /**
   * When the oldest job of a kind whose boolean payload field is true was first queued (running or waiting), or
   * null: e.g. the oldest opt-out not yet carried to the other side.
   */
  async oldestWhere(kindName: string, booleanField: string): Promise<Date | null> {
    // Written out as literals, not parameters: the planner matches the partial indexes of migration 6 (the oldest
    // pending opt-out, asked for by every health check) only against the same expression. Both are our own names.
    if (!/^[a-z-]+$/.test(kindName) || !/^[A-Za-z]+$/.test(booleanField)) throw new Error('oldestWhere takes a job kind and a payload field name');
    const result = await this.db.query(`SELECT min(created_at) AS oldest FROM jobs WHERE kind = '${kindName}' AND (payload ->> '${booleanField}') = 'true'`);
    return z.object({ oldest: z.coerce.date().nullable() }).parse(result.rows[0]).oldest;
  }

  async readyCount(kindName: string): Promise<number> {
    const result = await this.db.query(`SELECT count(*) AS n FROM jobs WHERE kind = $1 AND state = 'queued' AND run_after <= $2`, [kindName, this.clock()]);
    return z.object({ n: z.coerce.number() }).parse(result.rows[0]).n;
  }
}

/** Whether a failed attempt ends the job (see JobQueue.fail). */
export function shouldDeadLetter(job: { attempts: number; createdAt: Date }, policy: RetryPolicy, outcome: FailureOutcome, now: Date): boolean {
  if (outcome.failureClass === 'permanent') return true;
  if (outcome.keepsOptOut) return false;
  const waited = now.getTime() - job.createdAt.getTime();
  return job.attempts >= policy.maxAttempts && waited >= (policy.retryWindowMs ?? DEFAULT_RETRY_WINDOW_MS);
}

function mergeBySubject<P>(kind: JobKind<P>, items: { subject: string; payload: P }[]): Map<string, P> {
  const bySubject = new Map<string, P>();
  for (const { subject, payload } of items) {
    const queued = bySubject.get(subject);
    bySubject.set(subject, queued === undefined ? payload : kind.merge(queued, payload));
  }
  return bySubject;
}
