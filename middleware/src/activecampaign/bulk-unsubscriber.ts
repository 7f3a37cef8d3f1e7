// Backlog path for rule R1 (DESIGN §2 "under a backlog, the worker batches unsubscribes"): AC's bulk import
// takes up to 250 contacts a call with `unsubscribe` list arrays, so 100 imports a minute move 25,000
// opt-outs where single POSTs would move 300 (research §4). AC says the importer is not for real-time sync:
// single changes go through unsubscribeFromAllLists instead.
import { acLimits, isPlausibleEmail, type ActiveCampaignClient } from './activecampaign-client';
import { AcClientError, AcRateLimitedError, AcServerError, isRetryable } from './activecampaign-errors';
import { SlidingWindowBudget, systemClock, type Clock, type RequestBudget } from './rate-limiter';

export interface BulkUnsubscribeInput {
  email: string;
  /** Known from the AC snapshot: bulk import CREATES contacts that don't exist, so only send known ones. */
  contactId: string;
  listIds: string[];
}

export type BulkOutcome =
  /** /import/info listed the contact id under success. */
  | 'unsubscribed'
  /** /import/info listed the email under failure (AC gives no reason, research §4). */
  | 'failed'
  /** Refused before sending: one invalid email would have rejected its whole batch. */
  | 'invalid-email'
  /** The import completed without naming this contact either way: verify with a read before trusting it. */
  | 'unknown'
  /** The import did not complete within maxWaitMs: verify or retry. */
  | 'timed-out'
  /** maxWaitMs ran out while AC did not answer the status checks (an outage): applied or not, nobody knows yet. */
  | 'unreachable';

export interface BulkUnsubscribeReport {
  batches: Array<{ batchId: string; size: number; status: string }>;
  outcomes: Array<{ email: string; contactId: string; outcome: BulkOutcome }>;
}

type Client = Pick<ActiveCampaignClient, 'bulkImportUnsubscribe' | 'getImportStatus'>;

export interface BulkUnsubscriberOptions {
  /** AC: "Multi-contact requests: 100 per minute" on the import endpoint, on top of 5 requests/s. */
  importBudget?: RequestBudget;
  /** The first guess of an import's processing time, and the longest wait between two checks of a pending one. */
  pollIntervalMs?: number;
  maxWaitMs?: number;
  /** How often one batch is re-sent after the import endpoint's own "Rate limit exceeded." */
  maxSubmitAttempts?: number;
  clock?: Clock;
  /** Shared by the rounds of one worker, so that each round starts from what the previous ones learned. */
  processing?: ImportProcessingEstimate;
  /** Called before a batch is sent (the caller notes what it is about to change: write-ahead). */
  onSubmitting?: (batch: readonly BulkUnsubscribeInput[]) => Promise<void>;
  /** Called when AC answered a batch's submit with an error: it did not take the batch. */
  onRefused?: (batch: readonly BulkUnsubscribeInput[]) => Promise<void>;
}

/** The first guess of an import's processing time when the caller gives none. */
export const defaultImportCheckMs = 2000;
/** Never check one pending import more often than this. */
const MIN_RECHECK_MS = 100;

/**
 * How long AC takes to process an import, learned from the status checks. AC documents no figure (only that the
 * import is asynchronous), and it varies with the account's load, so it is learned: a "not done" at age a says it
 * takes longer than a (raise the guess past it), a "done" on the first check says it may take less (lower the guess
 * a little). The guess therefore hovers just above the real time, and few checks are wasted (unit test: 40 imports
 * of 3 s cost at most 46 checks).
 */
export class ImportProcessingEstimate {
  private current: number;

  constructor(
    initialMs: number,
    private readonly floorMs = 200,
    private readonly ceilingMs = 120_000,
  ) {
    this.current = initialMs;
  }

  get expectedMs(): number {
    return this.current;
  }

  notDoneAt(ageMs: number): void {
    this.current = this.clamp(Math.max(this.current, ageMs * 1.15 + 200));
  }

  doneOnFirstCheckAt(ageMs: number): void {
    // Only a check made about when the guess said teaches anything: one that waited behind older imports does not.
    if (ageMs <= this.current * 1.1) this.current = this.clamp(this.current * 0.97);
  }

  private clamp(ms: number): number {
    return Math.min(this.ceilingMs, Math.max(this.floorMs, ms));
  }
}

/** One shared default: the import limit belongs to the account, like the 5 requests/s. */
const defaultImportBudget = new SlidingWindowBudget({
  limit: 100,
  windowMs: 60_000,
});

export async function unsubscribeInBulk(
  client: Client,
  inputs: readonly BulkUnsubscribeInput[],
  {
    importBudget = defaultImportBudget,
    pollIntervalMs = defaultImportCheckMs,
    maxWaitMs = 10 * 60_000,
    maxSubmitAttempts = 3,
    clock = systemClock,
    processing = new ImportProcessingEstimate(pollIntervalMs),
    onSubmitting,
    onRefused,
  }: BulkUnsubscriberOptions = {},
): Promise<BulkUnsubscribeReport> {
  const outcomes = new Map<BulkUnsubscribeInput, BulkOutcome>();
  const sendable: BulkUnsubscribeInput[] = [];
  for (const input of inputs) {
    if (!isPlausibleEmail(input.email)) outcomes.set(input, 'invalid-email');
    else if (input.listIds.length > 0) sendable.push(input);
    else outcomes.set(input, 'unsubscribed'); // on no list: nothing to unsubscribe from
  }

  const batches: Array<{
    batchId: string;
    members: BulkUnsubscribeInput[];
    status: string;
    submittedAt: number;
    checks: number;
    nextCheckAt?: number;
  }> = [];
  for (const chunk of chunkForImport(sendable)) {
    await onSubmitting?.(chunk);
    let batchId: string;
    try {
      batchId = await submitWithImportLimit(client, chunk, importBudget, maxSubmitAttempts, clock);
    } catch (error) {
      // An answer (4xx, 5xx, 429) means AC did not take the batch; a timeout or a reset may hide one it took.
      if (error instanceof AcClientError || error instanceof AcServerError || error instanceof AcRateLimitedError) await onRefused?.(chunk);
      throw error;
    }
    batches.push({ batchId, members: chunk, status: 'queued', submittedAt: clock.now(), checks: 0 });
  }
  // Whether AC answered the round's latest status check: a deadline reached while it did not (an outage) says
  // nothing about the imports. A 429 is an answer (AC is there, pacing us); a 503 is what an outage answers too.
  let unanswered = false;

  // Submit everything first, then confirm: AC processes batches in the background, and status checks cost the same
  // 5 requests/s as the imports. Only the oldest pending batch is checked, when it is expected to be done: AC works
  // through an account's imports in order, so while it is pending the younger ones are too, and asking about them
  // would spend requests the next imports need (bench:push (b)).
  const deadline = clock.now() + maxWaitMs;
  const pending = [...batches];
  while (pending.length > 0) {
    const now = clock.now();
    if (now >= deadline) {
      for (const batch of pending) for (const member of batch.members) outcomes.set(member, unanswered ? 'unreachable' : 'timed-out');
      break;
    }
    const oldest = pending[0] as (typeof pending)[number];
    const dueAt = oldest.nextCheckAt ?? oldest.submittedAt + processing.expectedMs;
    if (now < dueAt) {
      await clock.sleep(Math.min(dueAt - now, pollIntervalMs, deadline - now));
      continue;
    }
    let info;
    try {
      info = await client.getImportStatus(oldest.batchId);
    } catch (error) {
      // The imports are submitted and AC works on them whatever happens to this read: a throttled or failed
      // status check is asked again after the pause, never turned into a failure of contacts AC may have done.
      if (!isRetryable(error)) throw error;
      unanswered = !(error instanceof AcRateLimitedError && error.status === 429);
      oldest.nextCheckAt = clock.now() + Math.max(pollIntervalMs, error instanceof AcRateLimitedError ? error.retryAfterMs : 0);
      continue;
    }
    unanswered = false;
    oldest.checks += 1;
    oldest.status = info.status;
    const ageMs = clock.now() - oldest.submittedAt;
    if (!info.done) {
      processing.notDoneAt(ageMs);
      const untilExpected = oldest.submittedAt + processing.expectedMs - clock.now();
      oldest.nextCheckAt = clock.now() + Math.min(Math.max(untilExpected, MIN_RECHECK_MS), pollIntervalMs);
      continue;
    }
    if (oldest.checks === 1) processing.doneOnFirstCheckAt(ageMs);
    pending.shift();
    const succeeded = new Set(info.successContactIds);
    const failed = new Set(info.failureEmails.map((e) => e.toLowerCase()));
    for (const member of oldest.members) {
      if (failed.has(member.email.toLowerCase())) outcomes.set(member, 'failed');
      else if (succeeded.has(member.contactId)) outcomes.set(member, 'unsubscribed');
      else outcomes.set(member, 'unknown');
    }
  }

  return {
    batches: batches.map((b) => ({
      batchId: b.batchId,
      size: b.members.length,
      status: b.status,
    })),
    outcomes: inputs.map((input) => ({
      email: input.email,
      contactId: input.contactId,
      outcome: outcomes.get(input) ?? 'unknown',
    })),
  };
}

/** Chunks of at most 250 contacts that also stay under the import payload size (see acLimits). */
export function chunkForImport<T extends { email: string; listIds: string[] }>(items: readonly T[]): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 64; // envelope
  for (const item of items) {
    // Matches bulkUnsubscribeBody's per-contact JSON closely enough to stay well under the limit.
    const itemBytes = Buffer.byteLength(item.email) + 64 + item.listIds.reduce((sum, id) => sum + id.length + 14, 0);
    if (
      current.length > 0 &&
      (current.length >= acLimits.maxContactsPerImport || bytes + itemBytes > acLimits.maxImportPayloadBytes)
    ) {
      chunks.push(current);
      current = [];
      bytes = 64;
    }
    current.push(item);
    bytes += itemBytes;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

async function submitWithImportLimit(
  client: Client,
  chunk: BulkUnsubscribeInput[],
  importBudget: RequestBudget,
  maxAttempts: number,
  clock: Clock,
): Promise<string> {
  for (let attempt = 1; ; attempt += 1) {
    await importBudget.acquire();
    try {
      return await client.bulkImportUnsubscribe(chunk.map(({ email, listIds }) => ({ email, listIds })));
    } catch (error) {
      // A 429 (the import endpoint's own per-minute limit, or the account's 5/s) means AC did not take the batch:
      // send it again after Retry-After. Failing it instead would fail the whole round, batches already submitted
      // included, and send every contact of it down the single path (bench:push (b) on PostgreSQL). Anything else
      // (5xx, timeouts) goes back to the jobs, whose retry re-sends: unsubscribing twice is harmless.
      if (!(error instanceof AcRateLimitedError) || attempt >= maxAttempts) throw error;
      if (error.scope === 'bulk-import') importBudget.pauseFor?.(error.retryAfterMs);
      await clock.sleep(error.retryAfterMs);
    }
  }
}
