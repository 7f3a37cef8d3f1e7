// Data that does not grow forever: rows past their retention are deleted in small batches, each its own short
// statement that skips rows another transaction holds (FOR UPDATE SKIP LOCKED), with a pause between batches, so
// that pruning never waits on a worker and never holds the queue for longer than one batch.
//
// What is pruned, and what never is:
// - webhook_inbox: deliveries already processed (a pending delivery is never pruned, however old);
// - quarantine: rejected inputs, kept for diagnosis;
// - jobs: finished jobs (state 'done'), and dead letters an operator has already retried (open dead letters stay
//   until someone looks at them);
// - audit_log: the record of every decision (R8), which doubles as the consent record of each opt-out: its
//   default is long (see config), and 0 keeps it forever.
import type { Logger } from 'pino';
import type { Database } from './database';
import type { Clock } from './clock';

export interface RetentionSettings {
  /** Days to keep each kind of row; 0 keeps them forever. */
  auditLogDays: number;
  webhookInboxDays: number;
  quarantineDays: number;
  jobsDays: number;
  /** Rows deleted per statement. */
  batchSize: number;
  /** Pause between two batches, leaving the database to the workers. */
  pauseMs: number;
}

export const defaultRetention: RetentionSettings = {
  auditLogDays: 1095,
  webhookInboxDays: 14,
  quarantineDays: 90,
  jobsDays: 30,
  batchSize: 500,
  pauseMs: 50,
};

interface PrunableTable {
  name: 'webhook_inbox' | 'quarantine' | 'jobs' | 'dead_letters' | 'audit_log';
  days: (s: RetentionSettings) => number;
  /** A condition on the row, with $1 the cutoff time. */
  expired: string;
}

const tables: PrunableTable[] = [
  { name: 'webhook_inbox', days: (s) => s.webhookInboxDays, expired: 'processed_at IS NOT NULL AND processed_at < $1' },
  { name: 'quarantine', days: (s) => s.quarantineDays, expired: 'received_at < $1' },
  { name: 'jobs', days: (s) => s.jobsDays, expired: `state = 'done' AND updated_at < $1` },
  { name: 'dead_letters', days: (s) => s.jobsDays, expired: 'retried_at IS NOT NULL AND retried_at < $1' },
  { name: 'audit_log', days: (s) => s.auditLogDays, expired: 'occurred_at < $1' },
];

export type PruneReport = Record<PrunableTable['name'], number>;

const DAY_MS = 24 * 3600_000;

export class RetentionPruner {
  private stopping = false;
  private running: Promise<PruneReport> | null = null;

  constructor(
    private readonly deps: { db: Database; clock: Clock; settings: RetentionSettings; logger?: Logger; sleep?: (ms: number) => Promise<void> },
  ) {}

  /** One pass over every table; a pass already under way is joined rather than doubled. */
  pruneOnce(): Promise<PruneReport> {
    this.running ??= this.pass().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Stops between two batches (a batch in flight finishes). */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running?.catch(() => undefined);
  }

  private async pass(): Promise<PruneReport> {
    const report = { webhook_inbox: 0, quarantine: 0, jobs: 0, dead_letters: 0, audit_log: 0 } satisfies PruneReport;
    const { settings } = this.deps;
    const sleep = this.deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    for (const table of tables) {
      const days = table.days(settings);
      if (days <= 0) continue;
      const cutoff = new Date(this.deps.clock().getTime() - days * DAY_MS);
      // Oldest first by id: rows are inserted in time order, so the expired ones sit at the start of the key.
      const sql = `DELETE FROM ${table.name} WHERE id IN (SELECT id FROM ${table.name} WHERE ${table.expired} ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)`;
      for (;;) {
        if (this.stopping) return report;
        const { rowCount } = await this.deps.db.query(sql, [cutoff, settings.batchSize]);
        report[table.name] += rowCount;
        if (rowCount < settings.batchSize) break;
        await sleep(settings.pauseMs);
      }
    }
    const total = Object.values(report).reduce((a, b) => a + b, 0);
    if (total > 0) this.deps.logger?.info({ pruned: report }, 'retention: expired rows deleted');
    return report;
  }
}
