// A manual clock for limiter tests ("mock only time"): sleep() resolves when advance() passes its deadline.
import type { Clock } from '../../src/activecampaign/rate-limiter';

export class FakeClock implements Clock {
  private current = 0;
  private sleepers: Array<{ at: number; resolve: () => void }> = [];

  now(): number {
    return this.current;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.sleepers.push({ at: this.current + ms, resolve }));
  }

  /** Moves time forward in steps, letting woken code run (microtasks) before the next step. */
  async advance(ms: number, stepMs = 1): Promise<void> {
    const end = this.current + ms;
    while (this.current < end) {
      this.current = Math.min(end, this.current + stepMs);
      const due = this.sleepers.filter((s) => s.at <= this.current);
      this.sleepers = this.sleepers.filter((s) => s.at > this.current);
      for (const s of due) s.resolve();
      await flush();
    }
  }
}

export async function flush(): Promise<void> {
  for (let i = 0; i < 10; i += 1) await Promise.resolve();
}
