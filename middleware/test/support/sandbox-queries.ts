// Observations on the emulators that tests assert on.
import type { Sandbox } from './sandbox-harness';

/** Record write calls (PATCH) the middleware made to Salesforce so far. */
export function salesforceWriteCalls(sandbox: Sandbox): number {
  // sObject Collections (batches) and sObject Rows (the conditional opt-in writes).
  return sandbox.sf.requestLog.filter((r) => r.method === 'PATCH' && /\/sobjects(\/|$|\?)/.test(r.path)).length;
}

/** Calls that change ActiveCampaign state (list status changes and imports). */
export function activeCampaignWriteCalls(sandbox: Sandbox): number {
  return sandbox.ac.requestLog.filter((r) => r.method === 'POST' && (r.path.startsWith('/api/3/contactLists') || r.path.startsWith('/api/3/import/bulk_import'))).length;
}

export function isOptedOut(sandbox: Sandbox, type: 'Contact' | 'Lead', id: string): boolean {
  return sandbox.sf.get(type, id)?.HasOptedOutOfEmail === true;
}

/** A (re)started app is ready once its stream is up and its first poll done; a loaded CI machine can take 15 s+. */
export async function readyApp(sandbox: Sandbox): Promise<void> {
  const { waitFor } = await import('./wait-for');
  await waitFor(() => sandbox.app?.status().then((s) => s.stream?.connected === true && s.lastPollAt !== null), { what: 'stream connected and first poll done', timeoutMs: 45_000 });
}
