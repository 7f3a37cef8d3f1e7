// When the AC poller runs: now (leadership acquired, the admin API) or on its schedule, which defers to a mass
// opt-out being worked off. While one is worked off through bulk import, a poll would spend the account's
// 5 requests/s re-reading the very contacts being unsubscribed (each import bumps them) while opt-outs wait. The
// poll is the safety net behind the webhooks and resumes from its cursor, so it waits (a scheduled one is skipped,
// one in progress pauses between pages), for at most MAX_POLL_DEFERRAL_MS since the last complete poll.
import type { Logger } from 'pino';
import type { Clock } from '../store/clock';
import type { AcPoller, PollSummary } from './ac-poller';

/** Longest a scheduled poll waits for a push backlog. */
export const MAX_POLL_DEFERRAL_MS = 10 * 60_000;

export interface PollScheduleDeps {
  clock: Clock;
  logger: Logger;
  /** The push worker is working off a bulk import. */
  pushInBulkBacklog: () => boolean;
  /** Push jobs ready to run now. */
  readyPushJobs: () => Promise<number>;
  /** Above this many ready push jobs the push path uses bulk import (ACTIVECAMPAIGN_BULK_THRESHOLD). */
  bulkThreshold: number;
}

export class AcPollSchedule {
  private lastPoll: Date | null = null;
  /** The last poll that went to the end (not paused for a push backlog): bounds how long polls may wait. */
  private lastCompletePoll: Date | null = null;
  private poller: AcPoller | null = null;

  constructor(private readonly deps: PollScheduleDeps) {}

  /** The poller asks this between pages (its shouldPause), so it is built after the schedule. */
  attach(poller: AcPoller): void {
    this.poller = poller;
  }

  lastPollAt(): Date | null {
    return this.lastPoll;
  }

  async mayWait(): Promise<boolean> {
    const { clock } = this.deps;
    if (this.lastCompletePoll === null || clock().getTime() - this.lastCompletePoll.getTime() >= MAX_POLL_DEFERRAL_MS) return false;
    if (this.deps.pushInBulkBacklog()) return true;
    return (await this.deps.readyPushJobs().catch(() => 0)) > this.deps.bulkThreshold;
  }

  /** One poll now; a failure is logged and resolves to null (the next poll resumes from the cursor). */
  runNow(): Promise<PollSummary | null> {
    if (this.poller === null) throw new Error('poll schedule used before its poller was attached');
    return this.poller.pollOnce().then(
      (summary) => {
        this.lastPoll = this.deps.clock();
        if (summary.paused !== true) this.lastCompletePoll = this.lastPoll;
        return summary;
      },
      (err: unknown) => {
        this.deps.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'poll failed; the next one resumes from the cursor');
        return null;
      },
    );
  }

  /** A scheduled poll: skipped while a push backlog may make it wait. */
  async runScheduled(): Promise<PollSummary | null> {
    if (await this.mayWait()) {
      this.deps.logger.info({ lastCompletePollAt: this.lastCompletePoll?.toISOString() }, 'scheduled poll deferred: a push backlog is using the AC budget');
      return null;
    }
    return this.runNow();
  }
}
