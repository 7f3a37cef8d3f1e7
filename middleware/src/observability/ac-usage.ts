// What this instance spent of ActiveCampaign's account budget (5 requests/s, DESIGN §5), minute by minute, and
// when AC last answered. Fed by the client's onRequest hook, so readiness can say "AC reachable" from real traffic
// instead of spending requests on probes, and the status page can chart rate-limit use without a time-series
// database. Per instance: instances sharing one account each report their own share.
import type { AcRequestInfo } from '../activecampaign/activecampaign-client';

const MINUTE_MS = 60_000;

export interface AcUsageMinute {
  /** Start of the minute (ISO). */
  minute: string;
  requests: number;
  throttled: number;
}

/** Outcomes that prove AC answered; a 429 or a 404 is still an answer. */
const reachableOutcomes: ReadonlySet<AcRequestInfo['outcome']> = new Set(['ok', 'rate-limited', 'client-error', 'bad-shape']);

export class AcUsage {
  private readonly buckets = new Map<number, { requests: number; throttled: number }>();
  lastAnsweredAt: number | null = null;
  lastFailedAt: number | null = null;
  lastFailure: string | null = null;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly keepMinutes = 24 * 60,
  ) {}

  record(info: AcRequestInfo): void {
    const at = this.now();
    const key = Math.floor(at / MINUTE_MS);
    const bucket = this.buckets.get(key) ?? { requests: 0, throttled: 0 };
    bucket.requests += 1;
    if (info.outcome === 'rate-limited') bucket.throttled += 1;
    this.buckets.set(key, bucket);
    if (this.buckets.size > this.keepMinutes) {
      for (const old of this.buckets.keys()) if (old <= key - this.keepMinutes) this.buckets.delete(old);
    }
    // A 401/403 means AC answered but refuses the token: for readiness that is as bad as no answer.
    if (reachableOutcomes.has(info.outcome) && info.status !== 401 && info.status !== 403) this.lastAnsweredAt = at;
    else {
      this.lastFailedAt = at;
      this.lastFailure = info.status === null ? info.outcome : `${info.outcome} (HTTP ${info.status})`;
    }
  }

  /** The last `minutes` minutes, oldest first, zero-filled, ending with the current minute. */
  series(minutes: number): AcUsageMinute[] {
    const current = Math.floor(this.now() / MINUTE_MS);
    const out: AcUsageMinute[] = [];
    for (let key = current - minutes + 1; key <= current; key++) {
      const bucket = this.buckets.get(key);
      out.push({ minute: new Date(key * MINUTE_MS).toISOString(), requests: bucket?.requests ?? 0, throttled: bucket?.throttled ?? 0 });
    }
    return out;
  }
}
