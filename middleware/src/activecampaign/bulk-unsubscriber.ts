// Backlog path for rule R1 (DESIGN §2 "under a backlog, the worker batches unsubscribes"): AC's bulk import
// takes up to 250 contacts a call with `unsubscribe` list arrays, so 100 imports a minute move 25,000
// opt-outs where single POSTs would move 300 (research §4). AC says the importer is not for real-time sync:
// single changes go through unsubscribeFromAllLists instead.
import { acLimits, isPlausibleEmail, type ActiveCampaignClient } from './activecampaign-client';
import { AcRateLimitedError, isRetryable } from './activecampaign-errors';
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
  | 'timed-out';

export interface BulkUnsubscribeReport {
  batches: Array<{ batchId: string; size: number; status: string }>;
  outcomes: Array<{ email: string; contactId: string; outcome: BulkOutcome }>;
}

type Client = Pick<ActiveCampaignClient, 'bulkImportUnsubscribe' | 'getImportStatus'>;

export interface BulkUnsubscriberOptions {
  /** AC: "Multi-contact requests: 100 per minute" on the import endpoint, on top of 5 requests/s. */
  importBudget?: RequestBudget;
  pollIntervalMs?: number;
  maxWaitMs?: number;
  /** How often one batch is re-sent after the import endpoint's own "Rate limit exceeded." */
  maxSubmitAttempts?: number;
  clock?: Clock;
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
    pollIntervalMs = 2000,
    maxWaitMs = 10 * 60_000,
    maxSubmitAttempts = 3,
    clock = systemClock,
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
  }> = [];
  for (const chunk of chunkForImport(sendable)) {
    const batchId = await submitWithImportLimit(client, chunk, importBudget, maxSubmitAttempts, clock);
    batches.push({ batchId, members: chunk, status: 'queued' });
  }

  // Submit everything first, then poll: AC processes batches in the background, polls cost requests/s.
  const deadline = clock.now() + maxWaitMs;
  const pending = new Set(batches);
  while (pending.size > 0) {
    let pauseMs = pollIntervalMs;
    for (const batch of [...pending]) {
      let info;
      try {
        info = await client.getImportStatus(batch.batchId);
      } catch (error) {
        // The imports are submitted and AC works on them whatever happens to this read: a throttled or failed
        // status check is asked again after the pause, never turned into a failure of contacts AC may have done.
        if (!isRetryable(error)) throw error;
        if (error instanceof AcRateLimitedError) pauseMs = Math.max(pauseMs, error.retryAfterMs);
        break;
      }
      batch.status = info.status;
      if (!info.done) continue;
      pending.delete(batch);
      const succeeded = new Set(info.successContactIds);
      const failed = new Set(info.failureEmails.map((e) => e.toLowerCase()));
      for (const member of batch.members) {
        if (failed.has(member.email.toLowerCase())) outcomes.set(member, 'failed');
        else if (succeeded.has(member.contactId)) outcomes.set(member, 'unsubscribed');
        else outcomes.set(member, 'unknown');
      }
    }
    if (pending.size === 0) break;
    if (clock.now() >= deadline) {
      for (const batch of pending) for (const member of batch.members) outcomes.set(member, 'timed-out');
      break;
    }
    await clock.sleep(pauseMs);
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
