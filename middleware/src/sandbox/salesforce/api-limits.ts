// The org's API request allocation: REST calls of the last 24 hours against a maximum ("API Request Limits and
// Allocations", Salesforce Developer Limits and Allocations Quick Reference: a rolling 24-hour period). Every REST
// answer reports the use in `Sforce-Limit-Info: api-usage=<used>/<max>` ("Limit Info Header", REST API Developer
// Guide), except the Versions resource, which does not count. Past the maximum, calls are refused with 403
// REQUEST_LIMIT_EXCEEDED ("Status Codes and Error Responses") until calls older than 24 hours make room.
// Enforcement is off by default, so that the demo and the benchmarks measure the product, not an allocation.

const windowMs = 24 * 60 * 60 * 1000;
const bucketMs = 60_000;

export class ApiRequestLimit {
  /** Calls per minute (start of the minute in ms -> count), pruned to the last 24 hours. */
  private readonly buckets = new Map<number, number>();
  private total = 0;

  constructor(
    private readonly now: () => Date,
    public max: number,
    public enforced: boolean,
  ) {}

  /** Calls counted in the last 24 hours. */
  used(): number {
    const oldest = this.now().getTime() - windowMs;
    for (const [start, count] of this.buckets) {
      if (start + bucketMs <= oldest) {
        this.buckets.delete(start);
        this.total -= count;
      }
    }
    return this.total;
  }

  /** Every call ever counted (the emulator's own statistic, not a Salesforce figure). */
  count = 0;

  /** Counts a call when the allocation has room (or is not enforced); false when the call must be refused. */
  take(): boolean {
    if (this.enforced && this.used() >= this.max) return false;
    this.add(1);
    return true;
  }

  /** As if other integrations of the org had made `calls` calls just now. */
  add(calls: number): void {
    const start = Math.floor(this.now().getTime() / bucketMs) * bucketMs;
    this.buckets.set(start, (this.buckets.get(start) ?? 0) + calls);
    this.total += calls;
    this.count += calls;
  }

  header(): string {
    return `api-usage=${this.used()}/${this.max}`;
  }
}
