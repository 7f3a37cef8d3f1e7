// `optout-sync reconcile --full [--dry-run]`: asks a running middleware for a full reconciliation (every Salesforce
// record against ActiveCampaign's list statuses, both directions), follows it with a progress bar, and prints what
// it found. The pass runs in the middleware, so its fixes go through the live workers (rules, retries, audit);
// --dry-run only reports.
import cliProgress from 'cli-progress';
import { z } from 'zod';
import { reconcileStateSchema, type ReconcileReport, type ReconcileState } from '../reconcile/reconcile-report';
import { AdminApiClient, AdminApiError } from './admin-api-client';
import type { AdminTarget } from './admin-commands';
import { errorText, formatTable, type Terminal } from './terminal';

export interface FullReconcileOptions {
  dryRun: boolean;
  target: AdminTarget;
  progress: boolean;
  pollMs?: number;
}

export function reportLines(report: ReconcileReport): string[] {
  const lines = formatTable(
    ['', 'COUNT'],
    [
      ['Salesforce records read', String(report.salesforceRecords)],
      ['ActiveCampaign contacts read', String(report.acContacts)],
      ['People compared (on both sides)', String(report.compared)],
      ['Drift Salesforce -> AC (R1 not applied)', String(report.drift.sfToAc)],
      ['Drift AC -> Salesforce (R3/R4 not applied)', String(report.drift.acToSf)],
      [report.dryRun ? 'Fixes queued (dry run: none)' : 'Fixes queued', String(report.queued)],
      ['Dead letters examined', String(report.deadLetters.examined)],
      ['  superseded by a fix / in step / re-queued', `${report.deadLetters.superseded} / ${report.deadLetters.inStep} / ${report.deadLetters.requeued}`],
      ['ActiveCampaign requests', String(report.acRequests)],
      ['Seconds', ((Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 1000).toFixed(1)],
    ],
  );
  if (report.sample.length > 0) {
    lines.push('', ...formatTable(['EMAIL', 'DIRECTION', 'WHAT'], report.sample.map((s) => [s.email, s.direction, s.detail]), 90));
  }
  return lines;
}

export async function runFullReconcile(terminal: Terminal, options: FullReconcileOptions): Promise<number> {
  if (options.target.token === undefined || options.target.token === '') {
    terminal.warn('No admin token: pass --token or set ADMIN_TOKEN.');
    return 1;
  }
  const admin = new AdminApiClient(options.target.url, options.target.token);
  const bar = options.progress ? new cliProgress.SingleBar({ format: '{phase} [{bar}] {value}/{total}', stream: process.stderr, hideCursor: true, clearOnComplete: false }, cliProgress.Presets.shades_classic) : null;
  let state: ReconcileState;
  try {
    const started = await admin.post('/admin/reconcile/full', { dryRun: options.dryRun }, z.object({ started: z.boolean(), alreadyRunning: z.boolean() }));
    if (started.alreadyRunning) terminal.say('A reconciliation is already running: following it.');
    bar?.start(1, 0, { phase: 'salesforce' });
    for (;;) {
      state = await admin.get('/admin/reconcile/full', reconcileStateSchema);
      if (!state.running) break;
      const p = state.progress;
      if (bar !== null && p !== null) {
        // AC's total is known only at the last page: the bar grows a page ahead until then.
        bar.setTotal(p.total ?? p.done + 100);
        bar.update(p.done, { phase: p.phase });
      }
      await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 1000));
    }
  } catch (error) {
    bar?.stop();
    terminal.warn(error instanceof AdminApiError ? error.message : `failed: ${errorText(error)}`);
    if (error instanceof AdminApiError && error.status === 404) terminal.warn('This middleware has no full reconciliation (older version?).');
    return 1;
  }
  bar?.stop();
  if (state.lastError !== null || state.last === null) {
    terminal.warn(`The reconciliation failed: ${state.lastError ?? 'no report'}`);
    return 1;
  }
  for (const line of reportLines(state.last)) terminal.say(line);
  terminal.say(state.last.dryRun ? 'Dry run: nothing was changed.' : `Queued ${state.last.queued} fix(es); the workers apply them now (audit reason "reconciliation").`);
  return 0;
}
