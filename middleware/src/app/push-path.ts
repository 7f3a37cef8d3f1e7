// Salesforce to ActiveCampaign: the intake that turns stream events (and reconciles, relay gaps, resyncs) into
// queued push jobs, and the push worker's loop that works them off.
import { SalesforceIntake } from '../workers/salesforce-intake';
import { PushWorker } from '../workers/push-worker';
import { ownWriteObserver } from '../workers/ac-change-detector';
import type { AcPoller } from '../workers/ac-poller';
import { pushJobKind } from '../sync/push-job';
import { WorkLoop } from './work-loop';
import type { AppContext } from './app-context';

export interface PushPath {
  intake: SalesforceIntake;
  worker: PushWorker;
  loop: WorkLoop;
}

export function createIntake(ctx: AppContext): SalesforceIntake {
  const { store, logger, metrics, links, salesforce, config } = ctx;
  return new SalesforceIntake({
    store,
    settings: () => salesforce.settings.get(),
    identity: () => ({ productClientId: config.salesforce.clientTag, integrationUserId: salesforce.session.current()?.userId ?? null }),
    readRecords: ctx.readRecords,
    requestReconcile: (objectName, reason) => {
      // GAP_OVERFLOW: the whole object is reconciled; recorded as a gap so that a failed attempt is retried.
      void store.replay
        .recordGap(`reconcile:${objectName}`, reason, null, null)
        .then(() => links.pokeGaps())
        .catch((err: unknown) => logger.error({ err: String(err) }, 'could not record the gap to reconcile'));
    },
    recordsInScope: ctx.recordsInScope,
    onQueued: () => links.pokePush(),
    logger,
    metrics,
  });
}

/** The push worker and its loop; the poller tells whether AC's baseline is read (own writes observed before it are baseline). */
export function wirePushPath(ctx: AppContext, intake: SalesforceIntake, poller: AcPoller): PushPath {
  const { store, clock, logger, metrics, timing, config, links, salesforce, scope } = ctx;
  const settings = salesforce.settings;
  const worker = new PushWorker({ store, ac: ctx.activecampaign.acForOptOuts, reader: ctx.reader, settings: () => settings.get(), bulkThreshold: config.activecampaign.bulkThreshold, acContactInScope: (id) => scope.acContactInScope(id), bulkOptions: { pollIntervalMs: timing.bulkPollIntervalMs, maxWaitMs: timing.bulkMaxWaitMs }, leaseMs: timing.jobLeaseMs, retry: ctx.retry, circuit: ctx.health.activeCampaign, clock, logger, metrics, observeOwnWrites: ownWriteObserver({ store, clock, isBaselineDone: (tx) => poller.isBaselineDone(tx), countedSubscribeSources: () => settings.get().r5SubscribeSources }), onPullWorkQueued: () => links.pokePull() });
  const loop = new WorkLoop('push', async () => {
    if (!settings.get().pushEnabled) return 0;
    await store.jobs.recoverExpiredLeases(pushJobKind);
    return worker.runOnce();
  }, { idleMs: timing.workerIdleMs, logger });
  links.pokePush = () => loop.poke();
  links.pushInBulkBacklog = () => worker.inBulkBacklog();
  return { intake, worker, loop };
}
