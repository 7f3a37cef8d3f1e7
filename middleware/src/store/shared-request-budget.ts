// A request budget shared by every instance on one database: each request reserves the next free slot of
// 1/rate seconds with one atomic UPDATE (a leaky bucket, GCRA-style), and waits until its slot. The database clock
// decides, so instances with skewed clocks still space their requests correctly.
import { z } from 'zod';
import type { Database } from './database';

const slotRow = z.object({ wait_ms: z.coerce.number() });

export class SharedRequestBudget {
  private readonly intervalMs: number;

  constructor(
    private readonly db: Database,
    private readonly name: string,
    ratePerSecond: number,
    /**
     * Share of the rate left unused: requests are counted by AC on arrival (a sliding window), and the time between
     * the slot and the arrival varies (database round trip, timers, GC), which squeezes neighbours together. The
     * chaos run measured ~110 ms of such jitter under faults, enough for 6 calls in one second at 5% headroom.
     * 10% (as the local bucket) leaves ~110 ms per second, and a request that leaves late moves the next free slot
     * (see acquire), which takes the largest delays out of the squeeze.
     */
    headroom = 0.1,
    /** A request later than this behind its slot pushes the next free slot to a full interval after itself. */
    private readonly lateToleranceMs = 25,
  ) {
    this.intervalMs = 1000 / (ratePerSecond * (1 - headroom));
  }

  async acquire(): Promise<void> {
    const asked = performance.now();
    const result = await this.db.query(
      `INSERT INTO request_budgets (name, next_slot) VALUES ($1, clock_timestamp() + make_interval(secs => $2::float8 / 1000))
       ON CONFLICT (name) DO UPDATE SET next_slot = GREATEST(request_budgets.next_slot, clock_timestamp()) + make_interval(secs => $2::float8 / 1000)
       RETURNING GREATEST(0, EXTRACT(EPOCH FROM (next_slot - clock_timestamp())) * 1000 - $2::float8) AS wait_ms`,
      [this.name, this.intervalMs],
    );
    const answered = performance.now();
    const waitMs = slotRow.parse(result.rows[0]).wait_ms;
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
    // Late (a slow answer from the database, a timer held up by a busy event loop): this request leaves closer to
    // the next slot than one interval, and a few such squeezes put six requests into one second. Moving the next
    // free slot to a full interval from now keeps the spacing for whatever is reserved from here on.
    const lateMs = (answered - asked) / 2 + (performance.now() - answered - waitMs);
    if (lateMs > this.lateToleranceMs) {
      await this.db.query(
        `UPDATE request_budgets SET next_slot = GREATEST(next_slot, clock_timestamp() + make_interval(secs => $2::float8 / 1000)) WHERE name = $1`,
        [this.name, this.intervalMs],
      );
    }
  }

  /** AC said slow down (429 + Retry-After): every instance's next slot moves past the pause. */
  pauseFor(ms: number): void {
    void this.db
      .query(
        `INSERT INTO request_budgets (name, next_slot) VALUES ($1, clock_timestamp() + make_interval(secs => $2::float8 / 1000))
         ON CONFLICT (name) DO UPDATE SET next_slot = GREATEST(request_budgets.next_slot, EXCLUDED.next_slot)`,
        [this.name, ms],
      )
      .catch(() => undefined);
  }
}
