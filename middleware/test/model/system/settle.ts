// Waiting for the whole system to come to rest, with bounded waits only: every webhook AC queued has been
// attempted, the middleware's webhook inbox is processed, its work queues are empty, its stream has consumed every
// change event Salesforce retains, and a poll has run since. A pass that moves nothing (no write on either side)
// ends it; a system that keeps writing fails with the counts, which is what a loop looks like.
import type { Sandbox } from '../../support/sandbox-harness';
import { waitFor } from '../../support/wait-for';

/** Calls that change Salesforce data: collections and single-record writes (token requests excluded). */
export function salesforceWrites(sandbox: Sandbox): number {
  return sandbox.sf.requestLog.filter((r) => (r.method === 'PATCH' || r.method === 'POST' || r.method === 'DELETE') && r.path.includes('/sobjects')).length;
}

/** Calls that change ActiveCampaign state: list status changes and bulk imports. */
export function activeCampaignWrites(sandbox: Sandbox): number {
  return sandbox.ac.requestLog.filter((r) => r.method === 'POST' && (r.path.startsWith('/api/3/contactLists') || r.path.startsWith('/api/3/import/bulk_import'))).length;
}

function running(sandbox: Sandbox): NonNullable<Sandbox['app']> {
  if (sandbox.app === null) throw new Error('settle needs a running middleware');
  return sandbox.app;
}

/** True when the middleware has nothing left to do with what it has already seen. */
async function idle(sandbox: Sandbox): Promise<boolean> {
  const app = running(sandbox);
  // A change event delayed by the org (a loaded org's delivery timing) has not happened yet for anyone.
  if (sandbox.sf.pendingEventCount() > 0) return false;
  if ((await app.store.webhookInbox.pending(1)).length > 0) return false;
  if ((await app.store.jobs.counts()).some((c) => c.state !== 'dead' && c.n > 0)) return false;
  const stream = (await app.status()).stream;
  if (stream === null || !stream.connected) return false;
  for (const [channel, state] of Object.entries(stream.channels)) {
    const newest = sandbox.sf.retainedEvents(channel).at(-1)?.data.event.replayId;
    if (newest !== undefined && (state.lastReplayId === null || Number(state.lastReplayId) < newest)) return false;
  }
  return true;
}

export async function waitIdle(sandbox: Sandbox, timeoutMs: number): Promise<void> {
  await sandbox.ac.webhooksIdle();
  await waitFor(() => idle(sandbox), { timeoutMs, intervalMs: 20, what: 'webhook inbox, work queues and stream at rest' });
}

/**
 * A poll that started after this call: pollNow joins a poll already under way (the scheduled one), which may have
 * read AC before the latest change, so the second call is the one that counts.
 */
export async function freshPoll(sandbox: Sandbox): Promise<void> {
  await running(sandbox).pollNow();
  await running(sandbox).pollNow();
}

export interface SettleOptions {
  /** Bound on each wait for the middleware to go idle. */
  idleTimeoutMs?: number;
  /** Passes (poll + drain) before giving up on a system that keeps writing. */
  maxPasses?: number;
}

export async function settle(sandbox: Sandbox, { idleTimeoutMs = 20_000, maxPasses = 6 }: SettleOptions = {}): Promise<void> {
  await waitIdle(sandbox, idleTimeoutMs);
  for (let pass = 0; pass < maxPasses; pass++) {
    const writes = salesforceWrites(sandbox) + activeCampaignWrites(sandbox);
    await freshPoll(sandbox);
    await waitIdle(sandbox, idleTimeoutMs);
    if (salesforceWrites(sandbox) + activeCampaignWrites(sandbox) === writes) return;
  }
  throw new Error(`the system did not settle: still writing after ${maxPasses} poll passes (SF writes ${salesforceWrites(sandbox)}, AC writes ${activeCampaignWrites(sandbox)})`);
}
