// AC: "5 requests per second per account", shared by every key on the account; over it, 429 with Retry-After in
// whole seconds (fixtures/activecampaign/activecampaign-rate-limits.yml). AC documents neither a fixed nor a
// sliding window and no burst allowance ("burst: null"). The emulator uses a SLIDING window (a log of the last
// window's accepted requests): it is the stricter reading, so a client that passes here passes a fixed window too.

export interface RateDecision {
  allowed: boolean;
  remaining: number;
  retryAfterSeconds: number;
}

export class SlidingWindowLimiter {
  private accepted: number[] = [];

  constructor(
    public limit: number,
    public windowMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  take(): RateDecision {
    const now = this.clock();
    this.accepted = this.accepted.filter((at) => now - at < this.windowMs);
    if (this.accepted.length >= this.limit) {
      const oldest = this.accepted[0] ?? now;
      const waitMs = Math.max(1, this.windowMs - (now - oldest));
      // Retry-After is a whole number of seconds (AC's example "Retry-After: 30"); never 0, which would invite a spin.
      return { allowed: false, remaining: 0, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
    }
    this.accepted.push(now);
    return { allowed: true, remaining: this.limit - this.accepted.length, retryAfterSeconds: 0 };
  }
}
