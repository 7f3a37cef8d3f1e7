import { describe, expect, it } from '@jest/globals';
import { PrioritizedBudget, SlidingWindowBudget, TokenBucket } from '../../src/activecampaign/rate-limiter';
import { FakeClock, flush } from './fake-clock';

/** Queues `count` callers and lets the immediate grants land before time moves. */
async function startCalls(budget: { acquire(): Promise<void> }, clock: FakeClock, count: number): Promise<number[]> {
  const grantedAt: number[] = [];
  for (let i = 0; i < count; i += 1) void budget.acquire().then(() => grantedAt.push(clock.now()));
  await flush();
  return grantedAt;
}

function maxInAnyWindow(times: number[], windowMs: number): number {
  let max = 0;
  for (let i = 0; i < times.length; i += 1) {
    const start = times[i] ?? 0;
    max = Math.max(max, times.filter((t) => t >= start && t < start + windowMs).length);
  }
  return max;
}

describe('TokenBucket', () => {
  it('when 30 callers queue at once with the defaults, then no second window holds more than 5 grants', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ clock });
    const granted = await startCalls(bucket, clock, 30);
    await clock.advance(8000);
    expect(granted).toHaveLength(30);
    expect(maxInAnyWindow(granted, 1000)).toBeLessThanOrEqual(5);
    // 4.5/s (10% headroom): 30 grants need 29 intervals of ~222 ms, a little under 6.5 s, not much more.
    expect(granted[29]).toBeLessThan(6600);
  });

  it('when callers arrive, then they are served in arrival order', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ clock, headroom: 0 });
    const order: number[] = [];
    for (let i = 0; i < 5; i += 1) void bucket.acquire().then(() => order.push(i));
    await clock.advance(1000);
    expect(order).toEqual([0, 1, 2, 3, 4]);
  });

  it('when the bucket was idle with burst 3, then 3 calls go at once and the 4th waits one interval', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ clock, burst: 3, headroom: 0 });
    const granted = await startCalls(bucket, clock, 4);
    await flush();
    expect(granted).toEqual([0, 0, 0]);
    await clock.advance(200);
    expect(granted).toEqual([0, 0, 0, 200]);
  });

  it('when paused for Retry-After, then nobody is served before the pause ends', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ clock, burst: 5, headroom: 0 });
    bucket.pauseFor(3000);
    const granted = await startCalls(bucket, clock, 2);
    await clock.advance(2999);
    expect(granted).toEqual([]);
    await clock.advance(1000);
    // No burst is saved up during a pause: the account restarts at the sustained rate.
    expect(granted).toEqual([3200, 3400]);
  });

  it('when given a nonsensical rate, then it refuses to build', () => {
    expect(() => new TokenBucket({ ratePerSecond: 0 })).toThrow(RangeError);
    expect(() => new TokenBucket({ burst: 0 })).toThrow(RangeError);
  });
});

describe('SlidingWindowBudget', () => {
  it('when 250 imports are asked for with a 100/minute limit, then each minute window holds at most 100', async () => {
    const clock = new FakeClock();
    const budget = new SlidingWindowBudget({
      limit: 100,
      windowMs: 60_000,
      clock,
    });
    const granted = await startCalls(budget, clock, 250);
    await clock.advance(125_000, 500);
    expect(granted).toHaveLength(250);
    expect(maxInAnyWindow(granted, 60_000)).toBe(100);
    expect(granted[100]).toBe(60_000);
    expect(granted[200]).toBe(120_000);
  });
});

describe('PrioritizedBudget', () => {
  it('when a poll has queued 10 page reads and an opt-out arrives, then the opt-out goes third, not 11th', async () => {
    const clock = new FakeClock();
    const budget = new PrioritizedBudget(new TokenBucket({ clock, headroom: 0 }));
    const order: string[] = [];
    for (let i = 0; i < 10; i += 1) void budget.lane('background').acquire().then(() => order.push(`page ${i}`));
    await flush();
    void budget.lane('urgent').acquire().then(() => order.push('opt-out'));
    await clock.advance(3000);
    expect(order).toHaveLength(11);
    // Page 0 took the free token and page 1 already waits for the next one (one reservation at a time); the
    // opt-out comes right after them, ahead of the eight pages still queued.
    expect(order.slice(0, 3)).toEqual(['page 0', 'page 1', 'opt-out']);
  });

  it('when the full reconciliation has queued page reads and a live opt-out and a poll page arrive, then both go ahead of the reconciliation', async () => {
    const clock = new FakeClock();
    const budget = new PrioritizedBudget(new TokenBucket({ clock, headroom: 0 }));
    const order: string[] = [];
    for (let i = 0; i < 6; i += 1) void budget.lane('reconcile').acquire().then(() => order.push(`reconcile ${i}`));
    await flush();
    void budget.lane('background').acquire().then(() => order.push('poll'));
    void budget.lane('urgent').acquire().then(() => order.push('opt-out'));
    await clock.advance(3000);
    expect(order).toHaveLength(8);
    // reconcile 1 already holds the next reservation; then the opt-out, the poll, and only then the rest.
    expect(order.slice(0, 4)).toEqual(['reconcile 0', 'reconcile 1', 'opt-out', 'poll']);
  });

  it('when both lanes are busy, then together they still keep to the inner rate', async () => {
    const clock = new FakeClock();
    const budget = new PrioritizedBudget(new TokenBucket({ clock }));
    const granted: number[] = [];
    for (let i = 0; i < 15; i += 1) {
      void budget.lane('background').acquire().then(() => granted.push(clock.now()));
      void budget.lane('urgent').acquire().then(() => granted.push(clock.now()));
    }
    await clock.advance(8000);
    expect(granted).toHaveLength(30);
    expect(maxInAnyWindow(granted, 1000)).toBeLessThanOrEqual(5);
  });

  it('when the inner budget fails for one caller, then that caller sees the error and the next is still served', async () => {
    let calls = 0;
    const budget = new PrioritizedBudget({
      acquire: async () => {
        calls += 1;
        if (calls === 1) throw new Error('database connection terminated');
      },
    });
    await expect(budget.lane('urgent').acquire()).rejects.toThrow('database connection terminated');
    await expect(budget.lane('background').acquire()).resolves.toBeUndefined();
  });
});
