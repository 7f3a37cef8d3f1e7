// Client-side request budgets. ActiveCampaign allows 5 requests per second per ACCOUNT, shared by every key
// and integration (research/activecampaign-api.md §1), so every call this process makes goes through one
// budget. Why not bottleneck/p-queue (DESIGN §2 "libraries before hand-written code"): neither is installed
// here, we need an injectable clock for tests, a "pause everyone for Retry-After" operation, and an interface
// that a PostgreSQL-shared budget (several instances, one account) can implement later. The code is ~80 lines.

/** Something every AC request waits on. The lead can swap in a database-backed budget shared by instances. */
export interface RequestBudget {
  /** Resolves when one request may start. */
  acquire(): Promise<void>;
  /** AC said "slow down" (429/503 + Retry-After): hold every caller back for `ms`. */
  pauseFor?(ms: number): void;
}

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface TokenBucketOptions {
  /** Sustained rate. AC: 5 requests/s per account. */
  ratePerSecond?: number;
  /**
   * Tokens that may accumulate while idle. Default 1: AC documents no burst allowance
   * (fixtures/activecampaign/activecampaign-rate-limits.yml "No burst allowance is documented"), and with a
   * burst of b up to b + 5 requests can land in one second, which a strict per-second counter would refuse.
   */
  burst?: number;
  /**
   * Share of the rate left unused, default 0.1 (so 4.5 requests/s, one every ~222 ms). AC counts requests
   * when they ARRIVE: network jitter and event-loop stalls can squeeze two requests sent 210 ms apart to 160 ms,
   * and a strict per-second counter then sees six in one second. At 5% bench:push still met two 429s in 200
   * opt-outs, each costing its opt-out a retry of seconds; 10% leaves ~110 ms of slack per second.
   */
  headroom?: number;
  clock?: Clock;
}

/**
 * Callers wait in one FIFO queue served by one drain loop: arrival order, no thundering herd after a pause.
 * Subclasses say how long the head of the queue must wait and record a grant.
 */
abstract class QueuedBudget implements RequestBudget {
  protected pausedUntil = 0;
  private readonly waiters: Array<() => void> = [];
  private draining = false;

  constructor(protected readonly clock: Clock) {}

  acquire(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waiters.push(resolve);
      if (!this.draining) void this.drain();
    });
  }

  pauseFor(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.clock.now() + Math.max(0, ms));
  }

  /** Milliseconds until one more request may start (0 = now), ignoring pauses. */
  protected abstract waitMs(now: number): number;
  protected abstract grant(now: number): void;

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.waiters.length > 0) {
        const now = this.clock.now();
        const waitMs = Math.max(this.pausedUntil - now, this.waitMs(now));
        if (waitMs > 0) {
          await this.clock.sleep(waitMs);
          continue;
        }
        this.grant(now);
        this.waiters.shift()?.();
      }
    } finally {
      this.draining = false;
    }
  }
}

/** A token bucket: a sustained rate plus an optional burst. */
export class TokenBucket extends QueuedBudget {
  private readonly ratePerMs: number;
  private readonly burst: number;
  private tokens: number;
  private lastRefillAt: number;

  constructor({ ratePerSecond = 5, burst = 1, headroom = 0.1, clock = systemClock }: TokenBucketOptions = {}) {
    super(clock);
    if (!(ratePerSecond > 0)) throw new RangeError('ratePerSecond must be > 0');
    if (!(burst >= 1)) throw new RangeError('burst must be >= 1');
    if (!(headroom >= 0 && headroom < 1)) throw new RangeError('headroom must be in [0, 1)');
    this.ratePerMs = (ratePerSecond * (1 - headroom)) / 1000;
    this.burst = burst;
    this.tokens = burst;
    this.lastRefillAt = clock.now();
  }

  override pauseFor(ms: number): void {
    super.pauseFor(ms);
    // Nothing accrues during the pause: after it the account restarts at the sustained rate, not with a burst.
    this.tokens = 0;
    this.lastRefillAt = Math.max(this.lastRefillAt, this.pausedUntil);
  }

  protected waitMs(now: number): number {
    this.refill(now);
    // Float refills can leave 0.9999...: treat "within a millionth" as a whole token.
    return this.tokens >= 1 - 1e-9 ? 0 : Math.ceil((1 - this.tokens) / this.ratePerMs);
  }

  protected grant(): void {
    this.tokens = Math.max(0, this.tokens - 1);
  }

  private refill(now: number): void {
    if (now <= this.lastRefillAt) return;
    this.tokens = Math.min(this.burst, this.tokens + (now - this.lastRefillAt) * this.ratePerMs);
    this.lastRefillAt = now;
  }
}

export interface SlidingWindowOptions {
  limit: number;
  windowMs: number;
  clock?: Clock;
}

/**
 * At most `limit` starts in any `windowMs`. Used for the bulk import endpoint's own limit, "100 multi-contact
 * imports per minute" (research/activecampaign-api.md §4), on top of the account's 5 requests/s.
 */
export class SlidingWindowBudget extends QueuedBudget {
  private readonly starts: number[] = [];
  private readonly limit: number;
  private readonly windowMs: number;

  constructor({ limit, windowMs, clock = systemClock }: SlidingWindowOptions) {
    super(clock);
    if (!(limit >= 1)) throw new RangeError('limit must be >= 1');
    this.limit = limit;
    this.windowMs = windowMs;
  }

  protected waitMs(now: number): number {
    while (this.starts.length > 0 && (this.starts[0] ?? 0) <= now - this.windowMs) this.starts.shift();
    if (this.starts.length < this.limit) return 0;
    return (this.starts[0] ?? now) + this.windowMs - now;
  }

  protected grant(now: number): void {
    this.starts.push(now);
  }
}

/**
 * urgent: opt-outs on their way to AC. background: the poller, webhook confirmations, readiness probes. reconcile:
 * the full reconciliation's pages, the lowest: it is the safety net of the safety net and may take the idle slots.
 */
export type RequestPriority = 'urgent' | 'background' | 'reconcile';

/**
 * Puts opt-outs first. The push path (an opt-out waiting to reach AC, a legal promise) and the background readers
 * (poller pages, webhook confirmation reads, readiness probes) share one account budget; in FIFO order a poll of
 * many pages would queue in front of an opt-out that arrived a moment later. Callers wait here in one queue per priority,
 * urgent first, and one at a time take their turn from the inner budget (a local bucket or the database-shared
 * one), so the order in which the inner budget hands out its slots is this one. Background callers are never
 * starved for long: urgent work is bounded by the rate itself, and only one caller holds a reservation at a time.
 */
export class PrioritizedBudget {
  private readonly queues: Record<RequestPriority, Array<{ resolve: () => void; reject: (error: unknown) => void }>> = { urgent: [], background: [], reconcile: [] };
  private draining = false;

  constructor(private readonly inner: RequestBudget) {}

  /** The budget as one priority sees it: hand it to a client that does that priority's work. */
  lane(priority: RequestPriority): RequestBudget {
    return {
      acquire: () => this.acquire(priority),
      pauseFor: (ms: number) => this.inner.pauseFor?.(ms),
    };
  }

  acquire(priority: RequestPriority): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queues[priority].push({ resolve, reject });
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      for (;;) {
        const next = this.queues.urgent.shift() ?? this.queues.background.shift() ?? this.queues.reconcile.shift();
        if (next === undefined) return;
        // A failing inner budget (the shared one's database gone) fails that caller's request, as it would
        // without this queue; the others keep their turn.
        await this.inner.acquire().then(next.resolve, next.reject);
      }
    } finally {
      this.draining = false;
    }
  }
}
