// Reads the ActiveCampaign emulator's request log by purpose, so that a bench can say where the budget went.
import fs from 'node:fs';
import type { ActiveCampaignEmulator } from '../../src/sandbox/activecampaign';

export type AcPurpose = 'push: find contact' | 'push: set list status' | 'push: bulk import' | 'push: import status' | 'poll: contacts page' | 'webhook: read contacts' | 'other';

export function purposeOf(entry: { method: string; path: string; url: string }): AcPurpose {
  if (entry.method === 'POST' && entry.path === '/api/3/contactLists') return 'push: set list status';
  if (entry.method === 'POST' && entry.path === '/api/3/import/bulk_import') return 'push: bulk import';
  if (entry.method === 'GET' && entry.path === '/api/3/import/info') return 'push: import status';
  if (entry.method === 'GET' && entry.path === '/api/3/contacts') {
    // The push path looks an email up; the webhook processor reads the contacts it was told about by id (ids[]);
    // the poller pages id-ordered (orders[id]=ASC) through changed or all contacts.
    if (/[?&]email=/.test(entry.url)) return 'push: find contact';
    if (/[?&]ids(%5B%5D|\[\])=/.test(entry.url)) return 'webhook: read contacts';
    return 'poll: contacts page';
  }
  if (entry.method === 'GET' && /^\/api\/3\/contacts\/\d+$/.test(entry.path)) return 'webhook: read contacts';
  return 'other';
}

export interface AcUsage {
  total: number;
  throttled: number;
  byPurpose: Map<AcPurpose, number>;
}

/** Requests that ARRIVED in [fromMs, toMs) (the log's `at` is the arrival time). */
export function acUsageBetween(ac: ActiveCampaignEmulator, fromMs: number, toMs = Number.POSITIVE_INFINITY): AcUsage {
  const usage: AcUsage = { total: 0, throttled: 0, byPurpose: new Map() };
  for (const entry of ac.requestLog) {
    const at = Date.parse(entry.at);
    if (at < fromMs || at >= toMs) continue;
    usage.total++;
    if (entry.rateLimited) usage.throttled++;
    const purpose = purposeOf(entry);
    usage.byPurpose.set(purpose, (usage.byPurpose.get(purpose) ?? 0) + 1);
  }
  return usage;
}

export function describeUsage(usage: AcUsage): string {
  return [...usage.byPurpose].sort((a, b) => b[1] - a[1]).map(([purpose, n]) => `${purpose} ${n}`).join(', ');
}

/** With BENCH_AC_LOG=<file>, the whole AC request log is written there (one JSON object a line) for profiling. */
export function dumpRequestLogIfAsked(ac: ActiveCampaignEmulator): void {
  const file = process.env.BENCH_AC_LOG;
  if (file === undefined || file === '') return;
  fs.writeFileSync(file, ac.requestLog.map((e) => JSON.stringify({ ...e, purpose: purposeOf(e) })).join('\n') + '\n');
}
