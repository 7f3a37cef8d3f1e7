// ActiveCampaign to Salesforce: the webhook inbox and the poller find AC changes and queue pull jobs; the pull
// worker writes them to Salesforce. The leader polls (on POLL_CRON, deferring to a push backlog).
import cron from 'node-cron';
import type { AppConfig } from '../config/load-config';
import type { Logger } from 'pino';
import type { ActiveCampaignClient } from '../activecampaign/activecampaign-client';
import { readRecordNames } from '../salesforce/record-names';
import { PullWorker } from '../workers/pull-worker';
import { WebhookProcessor } from '../workers/webhook-processor';
import { AcPoller } from '../workers/ac-poller';
import { AcPollSchedule } from '../workers/ac-poll-schedule';
import { pushJobKind } from '../sync/push-job';
import { pullJobKind } from '../sync/pull-job';
import { WorkLoop } from './work-loop';
import type { AppContext } from './app-context';
import type { LeaderDuty } from './leadership';

export interface ReversePath {
  worker: PullWorker;
  poller: AcPoller;
  pollSchedule: AcPollSchedule;
  pullLoop: WorkLoop;
  webhookLoop: WorkLoop;
  /** Polling: on the leader only. */
  polling: LeaderDuty;
}

export function wireReversePath(ctx: AppContext): ReversePath {
  const { store, clock, logger, metrics, timing, config, links, salesforce, scope } = ctx;
  const { rest, settings } = salesforce;
  const ac = ctx.activecampaign.ac;
  const worker = new PullWorker({
    store,
    rest,
    reader: ctx.reader,
    settings: () => settings.get(),
    customFields: salesforce.customFields,
    recordsInScope: async (records) => {
      if (!ctx.campaignScoped()) return records;
      const ok = await scope.salesforceRecordsInScope(records.map((r) => r.id));
      return records.filter((r) => ok.has(r.id));
    },
    acContactInScope: (id) => scope.acContactInScope(id),
    leaseMs: timing.jobLeaseMs,
    lingerMs: timing.pullLingerMs,
    limitPauseMs: timing.sfLimitPauseMs,
    recordNames: (records) => readRecordNames(rest, records),
    retry: ctx.retry,
    circuit: ctx.health.salesforce,
    clock,
    logger,
    metrics,
  });
  links.writesPaused = () => {
    const pause = worker.salesforcePause();
    return pause === null ? [] : [`Salesforce writes wait until ${pause.until.toISOString()}: ${pause.reason}; the jobs stay queued`];
  };
  const pollSchedule = new AcPollSchedule({
    clock,
    logger,
    pushInBulkBacklog: () => links.pushInBulkBacklog(),
    readyPushJobs: () => store.jobs.readyCount(pushJobKind.name),
    bulkThreshold: config.activecampaign.bulkThreshold,
  });
  const poller = new AcPoller({ store, ac, clock, logger, metrics, overlapMs: config.activecampaign.pollOverlapSeconds * 1000, fullPassEveryMs: timing.fullPassEveryMs, onQueued: () => links.pokePull(), shouldPause: () => pollSchedule.mayWait(), countedSubscribeSources: () => settings.get().r5SubscribeSources });
  pollSchedule.attach(poller);
  const webhooks = new WebhookProcessor({ store, ac, clock, logger, metrics, isBaselineDone: () => poller.isBaselineDone(), onQueued: () => links.pokePull(), lingerMs: timing.webhookLingerMs, countedSubscribeSources: () => settings.get().r5SubscribeSources });

  const pullLoop = new WorkLoop('pull', async () => {
    if (!settings.get().pullEnabled) return 0;
    await store.jobs.recoverExpiredLeases(pullJobKind);
    return worker.runOnce();
  }, { idleMs: timing.workerIdleMs, logger });
  const webhookLoop = new WorkLoop('webhooks', () => webhooks.runOnce(), { idleMs: timing.workerIdleMs, logger });
  links.pokePull = () => pullLoop.poke();
  links.pokeWebhooks = () => webhookLoop.poke();

  let pollTask: { stop(): unknown } | null = null;
  let pollTimer: NodeJS.Timeout | null = null;
  const polling: LeaderDuty = {
    start() {
      if (timing.pollEveryMs !== null) pollTimer = setInterval(() => void pollSchedule.runScheduled(), timing.pollEveryMs);
      else pollTask = cron.schedule(config.activecampaign.pollCron, () => void pollSchedule.runScheduled());
      void pollSchedule.runNow();
    },
    stop() {
      pollTask?.stop();
      pollTask = null;
      if (pollTimer !== null) clearInterval(pollTimer);
      pollTimer = null;
    },
  };
  return { worker, poller, pollSchedule, pullLoop, webhookLoop, polling };
}

/** Registers (or finds) AC's webhook when ACTIVECAMPAIGN_WEBHOOK_PUBLIC_URL is set; the poller covers every change without it. */
export function registerAcWebhook(config: AppConfig, ac: ActiveCampaignClient, logger: Logger): void {
  if (config.activecampaign.webhookPublicUrl === undefined) return;
  const hookUrl = `${config.activecampaign.webhookPublicUrl.replace(/\/+$/, '')}/webhooks/activecampaign/${config.http.webhookSecret}`;
  ac.ensureWebhook({ name: 'optout-sync', url: hookUrl, events: ['subscribe', 'unsubscribe', 'bounce', 'update'], sources: ['public', 'admin', 'api', 'system'] }).then(
    (r) => logger.info({ action: r.action }, 'activecampaign webhook registered'),
    (err: unknown) => logger.error({ err: err instanceof Error ? err.message : String(err) }, 'webhook registration failed; the poller still covers every change'),
  );
}
