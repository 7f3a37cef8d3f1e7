// Leadership decides which instance streams, polls and runs the scheduled passes (one of each per org keeps the
// stream's delivery allocation and the API budgets down); every instance works the queues. The leader lease is
// renewed on a timer; the duties start in the order they were assigned and stop in the reverse order.
import type { Logger } from 'pino';
import type { Store } from '../store';

const LEADER_LEASE = 'stream-and-poll';

export interface LeaderDuty {
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
}

export class Leadership {
  private leader = false;
  private busy = false;
  private readonly duties: LeaderDuty[] = [];

  constructor(private readonly deps: { store: Store; leaseTtlMs: number; logger: Logger }) {}

  isLeader(): boolean {
    return this.leader;
  }

  /** A duty of the leader; assigned before the first check. */
  assign(duty: LeaderDuty): void {
    this.duties.push(duty);
  }

  /** Takes or renews the lease; starts or stops the duties when that changes who leads. */
  async check(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const holds = await this.deps.store.leases.acquire(LEADER_LEASE, this.deps.leaseTtlMs);
      if (holds && !this.leader) await this.become();
      else if (!holds && this.leader) await this.lose();
    } catch (error) {
      this.deps.logger.error({ err: error instanceof Error ? error.message : String(error) }, 'leadership check failed');
      if (this.leader) await this.lose();
    } finally {
      this.busy = false;
    }
  }

  /** Stops the duties and hands the lease back, so that another instance need not wait for it to expire. */
  async release(): Promise<void> {
    if (this.leader) await this.lose();
    await this.deps.store.leases.release(LEADER_LEASE).catch(() => undefined);
  }

  private async become(): Promise<void> {
    this.leader = true;
    this.deps.logger.info({}, 'leadership acquired: streaming and polling here');
    for (const duty of this.duties) await duty.start();
  }

  private async lose(): Promise<void> {
    this.leader = false;
    this.deps.logger.warn({}, 'leadership lost: stopping stream and poller');
    for (const duty of [...this.duties].reverse()) await duty.stop();
  }
}
