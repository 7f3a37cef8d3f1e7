// Reconciliation: the stream-gap loop (SOQL since the last good moment, for every open gap, on the leader) and the
// full reconciliation (reconcile/: every record against AC, both directions) on RECONCILE_CRON, on the leader.
import cron from 'node-cron';
import { SalesforceReconciler } from '../workers/salesforce-reconciler';
import { FullReconciler, bulkSnapshotReader } from '../reconcile/full-reconciler';
import type { SalesforceIntake } from '../workers/salesforce-intake';
import { WorkLoop } from './work-loop';
import type { AppContext } from './app-context';
import type { LeaderDuty, Leadership } from './leadership';

export interface Reconciliation {
  reconciler: SalesforceReconciler;
  fullReconciler: FullReconciler;
  gapLoop: WorkLoop;
  /** The scheduled full reconciliation: on the leader only (one pass per org, not one per instance). */
  schedule: LeaderDuty;
}

export function wireReconciliation(ctx: AppContext, intake: SalesforceIntake, leadership: Leadership): Reconciliation {
  const { store, clock, logger, metrics, timing, config, links, salesforce, scope } = ctx;
  const { rest, settings } = salesforce;
  const reconciler = new SalesforceReconciler({ store, rest, intake, settings: () => settings.get(), clock, logger });
  const fullReconciler = new FullReconciler({
    store,
    salesforce: bulkSnapshotReader(rest, { pollMs: timing.sfBulkQueryPollMs }),
    // The lowest lane of the account's budget: live opt-outs and the poller go first.
    ac: ctx.activecampaign.client('reconcile'),
    intake,
    settings: () => settings.get(),
    recordsInScope: ctx.recordsInScope,
    acContactInScope: async (id) => (settings.get().scopeAcTag === null ? true : scope.acContactInScope(id)),
    clock,
    logger,
    onQueued: (direction) => (direction === 'sf-to-ac' ? links.pokePush() : links.pokePull()),
    onReport: (report) => {
      const dryRun = String(report.dryRun);
      metrics.reconcileDrift.inc({ direction: 'sf-to-ac', dry_run: dryRun }, report.drift.sfToAc);
      metrics.reconcileDrift.inc({ direction: 'ac-to-sf', dry_run: dryRun }, report.drift.acToSf);
      metrics.reconcileLastRun.set({ dry_run: dryRun }, Date.parse(report.finishedAt) / 1000);
      metrics.reconcileDuration.set({ dry_run: dryRun }, (Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 1000);
    },
  });
  // Open stream gaps are reconciled by the leader (the instance that owns the stream) until a reconcile succeeds.
  const gapLoop = new WorkLoop('stream-gaps', async () => (leadership.isLeader() ? reconciler.reconcileOpenGaps() : 0), { idleMs: Math.max(timing.workerIdleMs, 1000), errorPauseMs: 2000, logger });
  links.pokeGaps = () => gapLoop.poke();

  let task: { stop(): unknown } | null = null;
  const schedule: LeaderDuty = {
    start() {
      if (config.reconcileCron === null) return;
      task = cron.schedule(config.reconcileCron, () => {
        if (leadership.isLeader()) fullReconciler.run({ dryRun: false }).catch((err: unknown) => logger.error({ err: err instanceof Error ? err.message : String(err) }, 'scheduled full reconciliation failed; the next schedule tries again'));
      });
    },
    stop() {
      task?.stop();
      task = null;
    },
  };
  return { reconciler, fullReconciler, gapLoop, schedule };
}
