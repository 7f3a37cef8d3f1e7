// The batching and bookkeeping of unsubscribeInBulk with a scripted client; the HTTP path runs against the
// emulator in activecampaign-emulator.test.ts.
import { describe, expect, it } from '@jest/globals';
import { AcNetworkError, AcRateLimitedError, AcServerError, AcTimeoutError } from '../../src/activecampaign/activecampaign-errors';
import type { AcImportStatus, BulkUnsubscribeEntry } from '../../src/activecampaign/activecampaign-client';
import { chunkForImport, ImportProcessingEstimate, unsubscribeInBulk } from '../../src/activecampaign/bulk-unsubscriber';
import { SlidingWindowBudget } from '../../src/activecampaign/rate-limiter';
import { FakeClock } from './fake-clock';

function inputs(count: number): Array<{ email: string; contactId: string; listIds: string[] }> {
  return Array.from({ length: count }, (_, i) => ({
    email: `person${i}@example.com`,
    contactId: String(i + 1),
    listIds: ['1', '2'],
  }));
}

class ScriptedClient {
  submitted: BulkUnsubscribeEntry[][] = [];
  throttleNext = 0;
  throttleAccountNext = 0;
  throttleStatusChecks = 0;
  /** Status checks fail as an unreachable AC would. */
  unreachable = false;
  /** Fails the submission with this number (1-based) with the error. */
  failSubmit: { at: number; error: Error } | null = null;
  private submits = 0;
  pollsBeforeDone = 1;
  /** When set, a batch is done this long after it was submitted (as AC's importer), whatever the polls. */
  processing: { clock: FakeClock; ms: number } | null = null;
  statusChecks: string[] = [];
  private polls = new Map<string, number>();
  private submittedAt = new Map<string, number>();

  async bulkImportUnsubscribe(entries: BulkUnsubscribeEntry[]): Promise<string> {
    if (this.throttleAccountNext > 0) {
      this.throttleAccountNext -= 1;
      throw new AcRateLimitedError(1000, 429, 'account', 'POST /import/bulk_import');
    }
    if (this.throttleNext > 0) {
      this.throttleNext -= 1;
      throw new AcRateLimitedError(60_000, 400, 'bulk-import', 'POST /import/bulk_import');
    }
    this.submits += 1;
    if (this.failSubmit !== null && this.failSubmit.at === this.submits) throw this.failSubmit.error;
    this.submitted.push(entries);
    const batchId = `batch-${this.submitted.length}`;
    this.submittedAt.set(batchId, this.processing?.clock.now() ?? 0);
    return batchId;
  }

  async getImportStatus(batchId: string): Promise<AcImportStatus> {
    if (this.unreachable) throw new AcNetworkError('GET /import/info', 'ECONNREFUSED');
    if (this.throttleStatusChecks > 0) {
      this.throttleStatusChecks -= 1;
      throw new AcRateLimitedError(1000, 429, 'account', 'GET /import/info');
    }
    this.statusChecks.push(batchId);
    const seen = (this.polls.get(batchId) ?? 0) + 1;
    this.polls.set(batchId, seen);
    const index = Number(batchId.split('-')[1]) - 1;
    const batch = this.submitted[index] ?? [];
    const done = this.processing === null ? seen > this.pollsBeforeDone : this.processing.clock.now() - (this.submittedAt.get(batchId) ?? 0) >= this.processing.ms;
    return {
      status: done ? 'completed' : 'pending',
      done,
      // The first contact of each batch "fails", the rest succeed (ids are the email's number + 1).
      successContactIds: done ? batch.slice(1).map((e) => String(Number(/\d+/.exec(e.email)?.[0]) + 1)) : [],
      failureEmails: done && batch[0] ? [batch[0].email.toUpperCase()] : [],
    };
  }
}

/** Lets the first batch go through, then has the account limit refuse the next submission once. */
async function flushThenThrottle(client: ScriptedClient): Promise<void> {
  for (let i = 0; i < 20 && client.submitted.length === 0; i += 1) await Promise.resolve();
  client.throttleAccountNext = 1;
}

describe('chunkForImport', () => {
  it('when 600 contacts are chunked, then AC gets 250 + 250 + 100', () => {
    expect(chunkForImport(inputs(600)).map((c) => c.length)).toEqual([250, 250, 100]);
  });

  it('when contacts sit on very many lists, then chunks shrink to stay under the payload size', () => {
    const heavy = inputs(250).map((i) => ({
      ...i,
      listIds: Array.from({ length: 200 }, (_, n) => String(10_000 + n)),
    }));
    const chunks = chunkForImport(heavy);
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.flat()).toHaveLength(250);
  });
});

describe('unsubscribeInBulk', () => {
  it('when imports complete, then every email gets its outcome from /import/info, invalid ones are never sent', async () => {
    const client = new ScriptedClient();
    const clock = new FakeClock();
    const all = [...inputs(300), { email: 'not an email', contactId: '999', listIds: ['1'] }];
    const running = unsubscribeInBulk(client, all, {
      clock,
      pollIntervalMs: 1000,
      importBudget: new SlidingWindowBudget({
        limit: 100,
        windowMs: 60_000,
        clock,
      }),
    });
    await clock.advance(5000, 100);
    const report = await running;
    expect(client.submitted.map((b) => b.length)).toEqual([250, 50]);
    expect(client.submitted[0]?.[0]).toEqual({
      email: 'person0@example.com',
      listIds: ['1', '2'],
    });
    expect(report.batches).toEqual([
      { batchId: 'batch-1', size: 250, status: 'completed' },
      { batchId: 'batch-2', size: 50, status: 'completed' },
    ]);
    const byEmail = new Map(report.outcomes.map((o) => [o.email, o.outcome]));
    expect(byEmail.get('person0@example.com')).toBe('failed');
    expect(byEmail.get('person250@example.com')).toBe('failed');
    expect(byEmail.get('person1@example.com')).toBe('unsubscribed');
    expect(byEmail.get('not an email')).toBe('invalid-email');
    expect(report.outcomes.filter((o) => o.outcome === 'unsubscribed')).toHaveLength(298);
  });

  it('when the import endpoint says "Rate limit exceeded.", then the batch is sent again after the wait', async () => {
    const client = new ScriptedClient();
    client.throttleNext = 1;
    const clock = new FakeClock();
    const running = unsubscribeInBulk(client, inputs(10), {
      clock,
      pollIntervalMs: 1000,
      importBudget: new SlidingWindowBudget({
        limit: 100,
        windowMs: 60_000,
        clock,
      }),
    });
    await clock.advance(59_000, 1000);
    expect(client.submitted).toHaveLength(0);
    await clock.advance(5000, 1000);
    const report = await running;
    expect(client.submitted).toHaveLength(1);
    expect(report.batches[0]?.status).toBe('completed');
  });

  it('when the account limit refuses the second batch, then it is sent again after Retry-After and the first is not lost', async () => {
    const client = new ScriptedClient();
    const clock = new FakeClock();
    const running = unsubscribeInBulk(client, inputs(300), {
      clock,
      pollIntervalMs: 200,
      importBudget: new SlidingWindowBudget({ limit: 100, windowMs: 60_000, clock }),
    });
    await flushThenThrottle(client);
    await clock.advance(5000, 100);
    const report = await running;
    expect(client.submitted.map((batch) => batch.length)).toEqual([250, 50]);
    expect(report.outcomes.filter((o) => o.outcome === 'unsubscribed')).toHaveLength(298);
  });

  it('when a status check is throttled, then it is asked again after Retry-After and the outcomes still come from AC', async () => {
    const client = new ScriptedClient();
    client.throttleStatusChecks = 2;
    const clock = new FakeClock();
    const running = unsubscribeInBulk(client, inputs(4), {
      clock,
      pollIntervalMs: 200,
      importBudget: new SlidingWindowBudget({ limit: 100, windowMs: 60_000, clock }),
    });
    await clock.advance(5000, 100);
    const report = await running;
    expect(client.submitted).toHaveLength(1);
    expect(report.outcomes.map((o) => o.outcome)).toEqual(['failed', 'unsubscribed', 'unsubscribed', 'unsubscribed']);
  });

  it('when an import never completes, then its contacts come back as timed-out', async () => {
    const client = new ScriptedClient();
    client.pollsBeforeDone = Number.POSITIVE_INFINITY;
    const clock = new FakeClock();
    const running = unsubscribeInBulk(client, inputs(3), {
      clock,
      pollIntervalMs: 1000,
      maxWaitMs: 3000,
      importBudget: new SlidingWindowBudget({
        limit: 100,
        windowMs: 60_000,
        clock,
      }),
    });
    await clock.advance(5000, 100);
    const report = await running;
    expect(report.outcomes.map((o) => o.outcome)).toEqual(['timed-out', 'timed-out', 'timed-out']);
  });

  it('when AC stops answering the status checks until the deadline, then its contacts come back as unreachable, not timed-out', async () => {
    const client = new ScriptedClient();
    client.unreachable = true;
    const clock = new FakeClock();
    const running = unsubscribeInBulk(client, inputs(3), { clock, pollIntervalMs: 1000, maxWaitMs: 3000, importBudget: new SlidingWindowBudget({ limit: 100, windowMs: 60_000, clock }) });
    await clock.advance(5000, 100);
    const report = await running;
    expect(client.submitted).toHaveLength(1);
    expect(report.outcomes.map((o) => o.outcome)).toEqual(['unreachable', 'unreachable', 'unreachable']);
  });

  it('when the second batch is refused, then each batch is announced before it is sent and only the refused one is reported back; a batch without an answer is not', async () => {
    for (const [error, refused] of [
      [new AcServerError(502, 'POST /import/bulk_import'), [50]],
      [new AcTimeoutError(30_000, 'POST /import/bulk_import'), []],
    ] as const) {
      const client = new ScriptedClient();
      client.failSubmit = { at: 2, error };
      const announced: number[] = [];
      const refusedSizes: number[] = [];
      const failure = await unsubscribeInBulk(client, inputs(300), {
        clock: new FakeClock(),
        pollIntervalMs: 200,
        onSubmitting: async (batch) => void announced.push(batch.length),
        onRefused: async (batch) => void refusedSizes.push(batch.length),
      }).then(() => null, (e: unknown) => e);
      expect(failure).toBe(error);
      expect(announced).toEqual([250, 50]);
      expect(refusedSizes).toEqual(refused);
    }
  });

  it('when imports take 3 s, then the checks learn it: 40 imports cost at most 46 status checks, and a younger import is never asked about while an older one is pending', async () => {
    const clock = new FakeClock();
    const client = new ScriptedClient();
    client.processing = { clock, ms: 3000 };
    const processing = new ImportProcessingEstimate(2000);
    const importBudget = new SlidingWindowBudget({ limit: 100, windowMs: 60_000, clock });
    // Two rounds of 20 imports sharing one estimate, as a push worker's rounds do.
    for (let round = 0; round < 2; round += 1) {
      const running = unsubscribeInBulk(client, inputs(5000), { clock, pollIntervalMs: 2000, importBudget, processing });
      await clock.advance(20_000, 50);
      const report = await running;
      expect(report.outcomes.filter((o) => o.outcome === 'unsubscribed')).toHaveLength(5000 - 20);
    }
    expect(client.submitted).toHaveLength(40);
    expect(client.statusChecks.length).toBeLessThanOrEqual(46);
    expect(processing.expectedMs).toBeGreaterThanOrEqual(2500);
    expect(processing.expectedMs).toBeLessThan(5000);
    // Checks go in submission order: once batch n is asked about, no older one is asked again.
    const order = client.statusChecks.map((id) => Number(id.split('-')[1]));
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });
});
