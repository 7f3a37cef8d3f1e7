// Builds the running middleware from a typed configuration: opens the store, connects the edges (Salesforce,
// ActiveCampaign), starts the workers and the HTTP server. Leadership decides which instance streams and polls;
// every instance works the queues.
import fs from 'node:fs';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import cron from 'node-cron';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { AppConfig } from '../config/load-config';
import { DatabaseUnreachableError } from '../config/database-label';
import { createStore, openDatabase, type Store } from '../store';
import { systemClock, type Clock } from '../store/clock';
import { createLogger } from '../observability/logger';
import { createMetrics, countingSalesforceFetch, type Metrics } from '../observability/metrics';
import { registerStreamGauges } from '../observability/stream-metrics';
import { AcReadiness, type AcReachability } from '../server/ac-readiness';
import { createResyncRequests } from '../workers/resync-requests';
import { SalesforceSession, type SalesforceAuthConfig } from '../salesforce/salesforce-auth';
import { SalesforceRestClient } from '../salesforce/salesforce-rest';
import { readRecordNames } from '../salesforce/record-names';
import { SalesforcePermissionWatch, type PermissionFinding } from '../salesforce/salesforce-permissions';
import type { SubscriberState } from '../salesforce/streaming-subscriber';
import { cdcChannel, optOutEvent, syncStateFields } from '../salesforce/package-names';
import { ActiveCampaignClient } from '../activecampaign/activecampaign-client';
import { PrioritizedBudget, TokenBucket, type RequestPriority } from '../activecampaign/rate-limiter';
import { SharedRequestBudget } from '../store/shared-request-budget';
import { RetentionPruner, defaultRetention } from '../store/retention';
import { SettingsProvider } from './settings-provider';
import { createSyncScope } from '../workers/sync-scope';
import { WorkLoop } from './work-loop';
import { createEventStream, type EventStream } from './event-stream';
import { SalesforceIntake, type RecordSnapshot } from '../workers/salesforce-intake';
import { SalesforceReconciler } from '../workers/salesforce-reconciler';
import { RelayGapReader } from '../workers/relay-gap-reader';
import { SalesforceAuditExport } from '../workers/salesforce-audit-export';
import { FullReconciler, bulkSnapshotReader } from '../reconcile/full-reconciler';
import { createSalesforceRecordReader } from '../workers/salesforce-records';
import { createOptOutHistory } from '../salesforce/opt-out-history';
import { PushWorker } from '../workers/push-worker';
import { PullWorker } from '../workers/pull-worker';
import { ownWriteObserver } from '../workers/ac-change-detector';
import { WebhookProcessor } from '../workers/webhook-processor';
import { AcPoller } from '../workers/ac-poller';
import { ConsentHealth, type ConsentHealthReport } from '../workers/consent-health';
import { createHttpApp, createWebhookApp } from '../server/http-app';
import { listen, slowSenderLimits } from '../server/listen';
import { ConnectedSince } from '../server/connected-since';
import { pushJobKind } from '../sync/push-job';
import { pullJobKind } from '../sync/pull-job';

export interface AppOptions {
  clock?: Clock;
  logger?: Logger;
  instanceId?: string;
  /** Test knobs: faster loops and leases than production needs. */
  timing?: Partial<AppTiming>;
}

export interface AppTiming {
  workerIdleMs: number;
  leaseTtlMs: number;
  leaseRenewMs: number;
  streamServerTimeoutMs: number;
  fayeRetrySeconds: number;
  busyBackoffMs: number;
  pollEveryMs: number | null;
  fullPassEveryMs: number;
  acTimeoutMs: number;
  /** Longest a Salesforce REST call may take; a slower one fails as transient and is tried again. */
  sfTimeoutMs: number;
  /** How long Salesforce writes pause when the org's daily API limit refuses a call (REQUEST_LIMIT_EXCEEDED). */
  sfLimitPauseMs: number;
  bulkPollIntervalMs: number;
  /** How often a Bulk API 2.0 query job's state is read while the full reconciliation waits for it. */
  sfBulkQueryPollMs: number;
  /** Lock time of a claimed queue job, renewed every leaseRenewMs while this instance lives (a crashed instance's jobs are taken over after it). */
  jobLeaseMs: number;
  /** How long the pull worker waits for a full Collections batch during a burst (see PullWorker.lingerMs). */
  pullLingerMs: number;
  /** How long webhook deliveries wait for others to share one confirming AC read (see WebhookProcessor.lingerMs). */
  webhookLingerMs: number;
  /** Vendor circuits (workers/vendor-circuit.ts): consecutive failures that open one, and the probes' spacing. */
  circuitFailureThreshold: number;
  circuitFirstProbeMs: number;
  circuitMaxProbeMs: number;
  /** How often the integration user's access to the opt-out field is checked again (two describes). */
  permissionCheckEveryMs: number;
}

export const defaultTiming: AppTiming = {
  workerIdleMs: 1000,
  leaseTtlMs: 20_000,
  leaseRenewMs: 5_000,
  streamServerTimeoutMs: 110_000,
  fayeRetrySeconds: 5,
  busyBackoffMs: 60_000,
  pollEveryMs: null,
  fullPassEveryMs: 6 * 3600_000,
  acTimeoutMs: 30_000,
  sfTimeoutMs: 30_000,
  sfLimitPauseMs: 5 * 60_000,
  bulkPollIntervalMs: 2000,
  sfBulkQueryPollMs: 2000,
  jobLeaseMs: 30_000,
  // Longer than the webhook linger: deliveries confirmed in rounds of up to 2 s still count as one burst here.
  pullLingerMs: 5000,
  webhookLingerMs: 2000,
  circuitFailureThreshold: 3,
  circuitFirstProbeMs: 2000,
  circuitMaxProbeMs: 60_000,
  permissionCheckEveryMs: 5 * 60_000,
};

const LEADER_LEASE = 'stream-and-poll';
/** Longest a scheduled poll waits for a push backlog (see scheduledPoll). */
const MAX_POLL_DEFERRAL_MS = 10 * 60_000;
/** How often an embedded store is vacuumed and analyzed (PGlite has no autovacuum). */
const STORE_MAINTENANCE_EVERY_MS = 15 * 60_000;
/** How often the consent-health gauges (oldest pending opt-out, circuits) are brought up to date. */
const HEALTH_REFRESH_EVERY_MS = 5_000;
/** How often the leader prunes rows past their retention. */
const RETENTION_EVERY_MS = 3600_000;

export interface RunningApp {
  url: string;
  /** The separate webhook listener's URL when WEBHOOK_HTTP_PORT is set; null when the main listener serves it. */
  webhookUrl: string | null;
  instanceId: string;
  store: Store;
  metrics: Metrics;
  logger: Logger;
  settings: SettingsProvider;
  isLeader(): boolean;
  status(): Promise<AppStatus>;
  /** Runs one poll now (tests, admin API). */
  pollNow(): Promise<unknown>;
  reconcileNow(reason: string): Promise<number>;
  /** The full reconciliation (reconcile/): every record against AC, both directions. */
  fullReconciler: FullReconciler;
  stop(): Promise<void>;
}

export interface AppStatus {
  instanceId: string;
  leader: boolean;
  settingsSource: 'org' | 'defaults';
  /** The subscriber's state, with when the current connection was made (lastConnectAt moves with every poll). */
  stream: (SubscriberState & { connectedSince: number | null }) | null;
  queue: { kind: string; state: string; n: number }[];
  acReachable: AcReachability;
  lastPollAt: string | null;
  /** Opt-outs waiting on a failing vendor: the status page's banner. */
  health: ConsentHealthReport;
  /** The org's daily API use (last Sforce-Limit-Info) and, while its limit is reached, until when writes wait. */
  salesforceApi: { used: number | null; max: number | null; writesPausedUntil: string | null };
  /** What the integration user lacks to sync the opt-out field (empty: nothing); null until it could be checked. */
  salesforcePermissions: PermissionFinding[] | null;
  /** The full reconciliation: running, and what the last pass found. */
  reconciliation: ReturnType<FullReconciler['state']>;
}

export async function startApp(config: AppConfig, options: AppOptions = {}): Promise<RunningApp> {
  const clock = options.clock ?? systemClock;
  const timing = { ...defaultTiming, ...options.timing };
  const instanceId = options.instanceId ?? `optout-sync-${randomUUID().slice(0, 8)}`;
  const logger = (options.logger ?? createLogger({ level: config.logLevel, secrets: config.secrets })).child({ instance: instanceId });
  const metrics = createMetrics({ now: () => clock().getTime() });
  const edgeClock = { now: () => clock().getTime(), setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms), clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout) };

  const db = await openDatabase(config.database.kind === 'postgres' ? config.database : { kind: 'pglite', dataDir: config.database.dataDir }).catch((error: unknown) => {
    throw new DatabaseUnreachableError(config.database, error);
  });
  const store = await createStore(db, clock, instanceId);

  const session = new SalesforceSession({ auth: salesforceAuth(config), apiVersion: config.salesforce.apiVersion, productClientId: config.salesforce.clientTag, logger, clock: edgeClock, timeoutMs: timing.sfTimeoutMs });
  const rest = new SalesforceRestClient(session, { logger, fetchImpl: countingSalesforceFetch(metrics), timeoutMs: timing.sfTimeoutMs, onApiUsage: (usage) => metrics.observeSalesforceApiUsage(usage) });
  const settings = new SettingsProvider(rest, logger);
  await settings.refresh().catch(() => undefined);
  // A hidden or read-only opt-out field loses events silently: checked at start and then periodically, it is on the
  // status (salesforcePermissions), the degraded reasons of /readyz and the status page's banner.
  const permissions = new SalesforcePermissionWatch({ rest, optOutField: () => settings.get().optOutField, logger, everyMs: timing.permissionCheckEveryMs });
  await permissions.check();
  permissions.start();

  let customFieldsKnown: boolean | null = null;
  const customFields = async () => {
    if (customFieldsKnown === null) {
      const names = await rest.describeFieldNames('Contact');
      customFieldsKnown = names.has(syncStateFields.hardBounced);
    }
    return customFieldsKnown;
  };

  // AC's limit is per account: on PostgreSQL (several instances) the budget lives in the database. Opt-outs on
  // their way to AC go ahead of the background readers (poller, webhook confirmations) within this process.
  const acBudget = new PrioritizedBudget(
    db.kind === 'postgres' ? new SharedRequestBudget(db, 'activecampaign', config.activecampaign.rateLimitPerSecond) : new TokenBucket({ ratePerSecond: config.activecampaign.rateLimitPerSecond }),
  );
  const acClient = (priority: RequestPriority) =>
    new ActiveCampaignClient({
      apiUrl: config.activecampaign.apiUrl,
      apiToken: config.activecampaign.apiToken,
      rateLimiter: acBudget.lane(priority),
      timeoutMs: timing.acTimeoutMs,
      logger,
      onRequest: (info) => metrics.observeAcRequest(info),
    });
  const ac = acClient('background');
  const acForOptOuts = acClient('urgent');
  // One cheap page of "contacts updated since now" (usually empty), sent only when no real traffic proved AC is up.
  const acReadiness = new AcReadiness({ usage: metrics.acUsage, probe: () => ac.listContactsUpdatedSince({ updatedAfter: clock(), limit: 1 }), now: () => clock().getTime() });
  const retry = { maxAttempts: config.jobs.maxAttempts, backoffBaseMs: config.jobs.backoffBaseMs, backoffCapMs: config.jobs.backoffCapMs, retryWindowMs: config.jobs.retryWindowMs };
  // Set once the pull worker exists (below): its pause at the org's daily API limit is a reason to be degraded.
  let writesPaused = (): string[] => [];
  const health = new ConsentHealth({ store, clock, metrics, circuitOptions: { failureThreshold: timing.circuitFailureThreshold, firstProbeDelayMs: timing.circuitFirstProbeMs, maxProbeDelayMs: timing.circuitMaxProbeMs }, otherReasons: () => [...permissions.reasons(), ...writesPaused()] });
  const history = createOptOutHistory({ rest, onUnavailable: (objectName, error) => logger.info({ objectName, err: error instanceof Error ? error.message : String(error) }, 'opt-out field history not readable; change times keep their bounds') });
  const reader = createSalesforceRecordReader({ rest, store, optOutField: () => settings.get().optOutField, customFields, history });

  const scope = createSyncScope({ rest, ac, settings: () => settings.get() });
  const campaignScoped = () => settings.get().scopeCampaignIds.length > 0;

  const readRecords = async (objectName: 'Contact' | 'Lead', recordIds: string[]): Promise<RecordSnapshot[]> => {
    const field = settings.get().optOutField;
    const schema = z.object({ Id: z.string(), Email: z.string().nullable(), LastModifiedDate: z.string() }).catchall(z.unknown());
    const out: RecordSnapshot[] = [];
    for (let i = 0; i < recordIds.length; i += 200) {
      const ids = recordIds.slice(i, i + 200).map((id) => `'${id.replace(/[^A-Za-z0-9]/g, '')}'`);
      const rows = await rest.query(`SELECT Id, Email, ${field}, LastModifiedDate FROM ${objectName} WHERE Id IN (${ids.join(',')})`, schema);
      out.push(...rows.map((r) => ({ recordId: r.Id, objectName, email: r.Email, optedOut: r[field] === true, lastModified: new Date(r.LastModifiedDate) })));
    }
    return out;
  };

  let pushLoop: WorkLoop | null = null;
  let pullLoop: WorkLoop | null = null;
  let webhookLoop: WorkLoop | null = null;
  let reconciler: SalesforceReconciler | null = null;
  let gapLoop: WorkLoop | null = null;

  const intake = new SalesforceIntake({
    store,
    settings: () => settings.get(),
    identity: () => ({ productClientId: config.salesforce.clientTag, integrationUserId: session.current()?.userId ?? null }),
    readRecords,
    requestReconcile: (objectName, reason) => {
      // GAP_OVERFLOW: the whole object is reconciled; recorded as a gap so that a failed attempt is retried.
      void store.replay
        .recordGap(`reconcile:${objectName}`, reason, null, null)
        .then(() => gapLoop?.poke())
        .catch((err: unknown) => logger.error({ err: String(err) }, 'could not record the gap to reconcile'));
    },
    recordsInScope: async (ids) => (campaignScoped() ? scope.salesforceRecordsInScope(ids) : new Set(ids)),
    onQueued: () => pushLoop?.poke(),
    logger,
    metrics,
  });
  reconciler = new SalesforceReconciler({ store, rest, intake, settings: () => settings.get(), clock, logger });
  // What the package's Apex relay recorded as not relayed (RELAY_GAP audit rows): read by the leader on the
  // settings schedule; a whole-object gap becomes a stream gap the gap loop reconciles.
  const relayGaps = new RelayGapReader({
    store,
    rest,
    intake,
    readRecords,
    recordReconcile: async (objectName, reason) => {
      await store.replay.recordGap(`reconcile:${objectName}`, reason, null, null);
      gapLoop?.poke();
    },
    logger,
  });
  // The decisions the Audit_Level__c setting chooses go to the org's audit object, batched, on the same schedule.
  const auditExport = new SalesforceAuditExport({ store, rest, settings: () => settings.get(), logger });
  const readRelayGaps = () => {
    if (!leader) return;
    auditExport.exportOnce().catch((err: unknown) => logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'decisions not copied to Salesforce; the next run retries'));
    if (!settings.get().pushEnabled) return;
    relayGaps.readOnce().catch((err: unknown) => logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'relay gaps not read; the next run retries'));
  };

  const fullReconciler = new FullReconciler({
    store,
    salesforce: bulkSnapshotReader(rest, { pollMs: timing.sfBulkQueryPollMs }),
    // The lowest lane of the account's budget: live opt-outs and the poller go first.
    ac: acClient('reconcile'),
    intake,
    settings: () => settings.get(),
    recordsInScope: async (ids) => (campaignScoped() ? scope.salesforceRecordsInScope(ids) : new Set(ids)),
    acContactInScope: async (id) => (settings.get().scopeAcTag === null ? true : scope.acContactInScope(id)),
    clock,
    logger,
    onQueued: (direction) => (direction === 'sf-to-ac' ? pushLoop?.poke() : pullLoop?.poke()),
    onReport: (report) => {
      const dryRun = String(report.dryRun);
      metrics.reconcileDrift.inc({ direction: 'sf-to-ac', dry_run: dryRun }, report.drift.sfToAc);
      metrics.reconcileDrift.inc({ direction: 'ac-to-sf', dry_run: dryRun }, report.drift.acToSf);
      metrics.reconcileLastRun.set({ dry_run: dryRun }, Date.parse(report.finishedAt) / 1000);
      metrics.reconcileDuration.set({ dry_run: dryRun }, (Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 1000);
    },
  });

  const push = new PushWorker({ store, ac: acForOptOuts, reader, settings: () => settings.get(), bulkThreshold: config.activecampaign.bulkThreshold, acContactInScope: (id) => scope.acContactInScope(id), bulkOptions: { pollIntervalMs: timing.bulkPollIntervalMs }, leaseMs: timing.jobLeaseMs, retry, circuit: health.activeCampaign, clock, logger, metrics, observeOwnWrites: ownWriteObserver({ store, clock, isBaselineDone: (tx) => poller.isBaselineDone(tx), countedSubscribeSources: () => settings.get().r5SubscribeSources }), onPullWorkQueued: () => pullLoop?.poke() });
  const pull = new PullWorker({
    store,
    rest,
    reader,
    settings: () => settings.get(),
    customFields,
    recordsInScope: async (records) => {
      if (!campaignScoped()) return records;
      const ok = await scope.salesforceRecordsInScope(records.map((r) => r.id));
      return records.filter((r) => ok.has(r.id));
    },
    acContactInScope: (id) => scope.acContactInScope(id),
    leaseMs: timing.jobLeaseMs,
    lingerMs: timing.pullLingerMs,
    limitPauseMs: timing.sfLimitPauseMs,
    recordNames: (records) => readRecordNames(rest, records),
    retry,
    circuit: health.salesforce,
    clock,
    logger,
    metrics,
  });
  writesPaused = () => {
    const pause = pull.salesforcePause();
    return pause === null ? [] : [`Salesforce writes wait until ${pause.until.toISOString()}: ${pause.reason}; the jobs stay queued`];
  };
  let lastPollAt: Date | null = null;
  /** The last poll that went to the end (not paused for a push backlog): bounds how long polls may wait. */
  let lastCompletePollAt: Date | null = null;
  // While a mass opt-out is worked off through bulk import, a poll would spend the account's 5 requests/s re-reading
  // the very contacts being unsubscribed (each import bumps them) while opt-outs wait. The poll is the safety net
  // behind the webhooks and resumes from its cursor, so it waits (a scheduled one is skipped, one in progress
  // pauses between pages), for at most MAX_POLL_DEFERRAL_MS since the last complete poll.
  const pollMayWait = async (): Promise<boolean> => {
    if (lastCompletePollAt === null || clock().getTime() - lastCompletePollAt.getTime() >= MAX_POLL_DEFERRAL_MS) return false;
    if (push.inBulkBacklog()) return true;
    return (await store.jobs.readyCount(pushJobKind.name).catch(() => 0)) > config.activecampaign.bulkThreshold;
  };
  const poller = new AcPoller({ store, ac, clock, logger, metrics, overlapMs: config.activecampaign.pollOverlapSeconds * 1000, fullPassEveryMs: timing.fullPassEveryMs, onQueued: () => pullLoop?.poke(), shouldPause: () => pollMayWait(), countedSubscribeSources: () => settings.get().r5SubscribeSources });
  const webhooks = new WebhookProcessor({ store, ac, clock, logger, metrics, isBaselineDone: () => poller.isBaselineDone(), onQueued: () => pullLoop?.poke(), lingerMs: timing.webhookLingerMs, countedSubscribeSources: () => settings.get().r5SubscribeSources });

  pushLoop = new WorkLoop('push', async () => {
    if (!settings.get().pushEnabled) return 0;
    await store.jobs.recoverExpiredLeases(pushJobKind);
    return push.runOnce();
  }, { idleMs: timing.workerIdleMs, logger });
  pullLoop = new WorkLoop('pull', async () => {
    if (!settings.get().pullEnabled) return 0;
    await store.jobs.recoverExpiredLeases(pullJobKind);
    return pull.runOnce();
  }, { idleMs: timing.workerIdleMs, logger });
  webhookLoop = new WorkLoop('webhooks', () => webhooks.runOnce(), { idleMs: timing.workerIdleMs, logger });
  // Open stream gaps are reconciled by the leader (the instance that owns the stream) until a reconcile succeeds.
  gapLoop = new WorkLoop('stream-gaps', async () => {
    if (!leader) return 0;
    const gaps = await store.replay.openGaps();
    for (const gap of gaps) {
      const objects: ('Contact' | 'Lead')[] = gap.channel === 'reconcile:Contact' ? ['Contact'] : gap.channel === 'reconcile:Lead' ? ['Lead'] : ['Contact', 'Lead'];
      await reconciler!.reconcile(objects, gap.since, `${gap.reason} (${gap.channel})`);
      await store.replay.closeGaps([gap.id]);
    }
    return gaps.length;
  }, { idleMs: Math.max(timing.workerIdleMs, 1000), errorPauseMs: 2000, logger });

  // Streaming: owned by the leader only (one subscription per org keeps the delivery allocation down).
  const channelsFor = () => {
    const mode = settings.get().eventMode;
    return mode === 'CDC' ? [cdcChannel.channel] : mode === 'RELAY' ? [optOutEvent.channel] : [cdcChannel.channel, optOutEvent.channel];
  };
  let subscriber: EventStream | null = null;
  const connectedSince = new ConnectedSince();
  const startStream = async () => {
    subscriber = createEventStream({ config: config.salesforce, session, channels: channelsFor(), store, intake, metrics, logger, clock: edgeClock, onGapRecorded: () => gapLoop?.poke(), timing });
    await subscriber.start();
  };

  let leader = false;
  let pollTask: { stop(): unknown } | null = null;
  let pollTimer: NodeJS.Timeout | null = null;
  const runPoll = () =>
    poller.pollOnce().then(
      (summary) => {
        lastPollAt = clock();
        if (summary.paused !== true) lastCompletePollAt = lastPollAt;
        return summary;
      },
      (err: unknown) => {
        logger.error({ err: err instanceof Error ? err.message : String(err) }, 'poll failed; the next one resumes from the cursor');
        return null;
      },
    );
  const scheduledPoll = async () => {
    if (await pollMayWait()) {
      logger.info({ lastCompletePollAt: lastCompletePollAt?.toISOString() }, 'scheduled poll deferred: a push backlog is using the AC budget');
      return null;
    }
    return runPoll();
  };
  let reconcileTask: { stop(): unknown } | null = null;
  const becomeLeader = async () => {
    leader = true;
    logger.info({}, 'leadership acquired: streaming and polling here');
    await startStream();
    // The full reconciliation runs on the leader only (one pass per org, not one per instance).
    if (config.reconcileCron !== null) {
      reconcileTask = cron.schedule(config.reconcileCron, () => {
        if (leader) fullReconciler.run({ dryRun: false }).catch((err: unknown) => logger.error({ err: err instanceof Error ? err.message : String(err) }, 'scheduled full reconciliation failed; the next schedule tries again'));
      });
    }
    if (timing.pollEveryMs !== null) pollTimer = setInterval(() => void scheduledPoll(), timing.pollEveryMs);
    else pollTask = cron.schedule(config.activecampaign.pollCron, () => void scheduledPoll());
    void runPoll();
    readRelayGaps();
  };
  const loseLeadership = async () => {
    leader = false;
    logger.warn({}, 'leadership lost: stopping stream and poller');
    pollTask?.stop();
    pollTask = null;
    reconcileTask?.stop();
    reconcileTask = null;
    if (pollTimer !== null) clearInterval(pollTimer);
    pollTimer = null;
    await subscriber?.stop();
    subscriber = null;
  };
  let leadershipBusy = false;
  const checkLeadership = async () => {
    if (leadershipBusy) return;
    leadershipBusy = true;
    try {
      const holds = await store.leases.acquire(LEADER_LEASE, timing.leaseTtlMs);
      if (holds && !leader) await becomeLeader();
      else if (!holds && leader) await loseLeadership();
    } catch (error) {
      logger.error({ err: error instanceof Error ? error.message : String(error) }, 'leadership check failed');
      if (leader) await loseLeadership();
    } finally {
      leadershipBusy = false;
    }
  };
  const settingsTask = cron.schedule(config.salesforce.settingsRefreshCron, () => void settings.refresh().catch(() => undefined).then(() => permissions.check()).then(readRelayGaps));
  registerStreamGauges(metrics.registry, () => ({ leader, connected: subscriber?.state().connected === true }));

  const status = async (): Promise<AppStatus> => ({
    instanceId,
    leader,
    settingsSource: settings.source,
    stream: subscriber === null ? null : { ...subscriber.state(), connectedSince: connectedSince.observe(subscriber.state()) },
    queue: await store.jobs.counts(),
    acReachable: acReadiness.known(),
    lastPollAt: lastPollAt?.toISOString() ?? null,
    health: await health.report(),
    salesforcePermissions: permissions.findings(),
    reconciliation: fullReconciler.state(),
    salesforceApi: { used: rest.apiUsage()?.used ?? null, max: rest.apiUsage()?.max ?? null, writesPausedUntil: pull.salesforcePause()?.until.toISOString() ?? null },
  });

  const resync = createResyncRequests({ store, reader, readRecords, intake, clock, onQueued: () => pushLoop?.poke() });
  const httpApp = createHttpApp({
    store,
    metrics,
    logger,
    adminToken: config.http.adminToken,
    webhookSecret: config.http.webhookSecret,
    onWebhookAccepted: () => webhookLoop?.poke(),
    status,
    ready: async () => {
      await store.db.query('SELECT 1');
      const s = subscriber?.state();
      const ac = await acReadiness.check();
      const report = await health.report();
      const stream = leader ? s?.connected === true : 'standby';
      // An operator woken by a 503 reads why the stream is down and when it tries again, without the logs.
      const streamDetail = stream === false && s !== undefined ? { status: s.status, nextAttemptAt: s.nextAttemptAt === null ? null : new Date(s.nextAttemptAt).toISOString(), lastError: s.lastError } : undefined;
      return { database: true, stream, leader, ac, degraded: report.reasons, ...(streamDetail === undefined ? {} : { streamDetail }) };
    },
    resyncEmail: resync.resyncEmail,
    resyncRecord: resync.resyncRecord,
    acRateLimitPerSecond: config.activecampaign.rateLimitPerSecond,
    reconcile: (reason) => reconciler!.reconcile(['Contact', 'Lead'], null, reason),
    fullReconciler: () => fullReconciler,
    retryDeadLetter: async (id) => (await store.jobs.retryDeadLetter(pushJobKind, id)) || store.jobs.retryDeadLetter(pullJobKind, id),
    onBackfillQueued: (direction) => (direction === 'sf-to-ac' ? pushLoop?.poke() : pullLoop?.poke()),
    serveWebhook: config.http.webhook === undefined,
    listNames: async () => (await ac.listLists()).map((l) => ({ id: String(l.id), name: l.name })),
  });
  const server = http.createServer(slowSenderLimits, httpApp);
  // The public face (WEBHOOK_HTTP_PORT): the webhook receiver alone, on its own listener.
  const webhookServer = config.http.webhook === undefined ? null : http.createServer(slowSenderLimits, createWebhookApp({ store, metrics, logger, webhookSecret: config.http.webhookSecret, onWebhookAccepted: () => webhookLoop?.poke() }));
  const closeServers = async () => {
    for (const s of [server, webhookServer]) {
      if (s === null || !s.listening) continue;
      await new Promise<void>((resolve) => s.close(() => resolve()));
      s.closeAllConnections();
    }
  };
  let url: string;
  let webhookUrl: string | null = null;
  try {
    url = `http://${config.http.host}:${await listen(server, config.http.port, config.http.host, 'HTTP_PORT')}`;
    if (webhookServer !== null && config.http.webhook !== undefined) {
      webhookUrl = `http://${config.http.webhook.host}:${await listen(webhookServer, config.http.webhook.port, config.http.webhook.host, 'WEBHOOK_HTTP_PORT')}`;
    }
  } catch (error) {
    await closeServers();
    settingsTask.stop();
    await permissions.stop();
    await db.close();
    throw error;
  }

  pushLoop.start();
  pullLoop.start();
  webhookLoop.start();
  gapLoop.start();
  await checkLeadership();
  // Every instance maintains its own embedded store (a no-op on PostgreSQL, whose autovacuum does it).
  const maintenanceTimer = setInterval(() => {
    db.maintain().catch((err: unknown) => logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'store maintenance (VACUUM ANALYZE) failed'));
  }, STORE_MAINTENANCE_EVERY_MS);
  maintenanceTimer.unref();
  // The oldest-pending-opt-out gauge moves with time, not with events: refreshed between scrapes.
  const healthTimer = setInterval(() => {
    health.report().catch((err: unknown) => logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'consent health check failed'));
  }, HEALTH_REFRESH_EVERY_MS);
  healthTimer.unref();
  // Retention: the leader prunes expired rows hourly, in small batches (store/retention.ts).
  const retention = new RetentionPruner({ db, clock, settings: { ...defaultRetention, ...config.retention }, logger });
  const retentionTimer = setInterval(() => {
    if (leader) retention.pruneOnce().catch((err: unknown) => logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'retention pruning failed; the next hour tries again'));
  }, RETENTION_EVERY_MS);
  retentionTimer.unref();
  const leadershipTimer = setInterval(() => {
    connectedSince.observe(subscriber?.state() ?? null);
    void checkLeadership();
    // A missed renewal only risks a second run of a job by another instance, which is idempotent.
    store.jobs.renewLeases(timing.jobLeaseMs).catch((err: unknown) => logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'job lease renewal failed'));
  }, timing.leaseRenewMs);

  if (config.activecampaign.webhookPublicUrl !== undefined) {
    const hookUrl = `${config.activecampaign.webhookPublicUrl.replace(/\/+$/, '')}/webhooks/activecampaign/${config.http.webhookSecret}`;
    ac.ensureWebhook({ name: 'optout-sync', url: hookUrl, events: ['subscribe', 'unsubscribe', 'bounce', 'update'], sources: ['public', 'admin', 'api', 'system'] }).then(
      (r) => logger.info({ action: r.action }, 'activecampaign webhook registered'),
      (err: unknown) => logger.error({ err: err instanceof Error ? err.message : String(err) }, 'webhook registration failed; the poller still covers every change'),
    );
  }
  logger.info({ url, webhookUrl, database: db.kind, settings: settings.source }, 'optout-sync started');

  return {
    url,
    webhookUrl,
    instanceId,
    store,
    metrics,
    logger,
    settings,
    isLeader: () => leader,
    status,
    pollNow: runPoll,
    reconcileNow: (reason) => reconciler!.reconcile(['Contact', 'Lead'], null, reason),
    fullReconciler,
    async stop() {
      clearInterval(leadershipTimer);
      clearInterval(maintenanceTimer);
      clearInterval(healthTimer);
      clearInterval(retentionTimer);
      await retention.stop();
      settingsTask.stop();
      await permissions.stop();
      if (leader) await loseLeadership();
      await store.leases.release(LEADER_LEASE).catch(() => undefined);
      await Promise.all([pushLoop?.stop(), pullLoop?.stop(), webhookLoop?.stop(), gapLoop?.stop()]);
      await push.idle();
      await closeServers();
      await db.close();
    },
  };
}

function salesforceAuth(config: AppConfig): SalesforceAuthConfig {
  const auth = config.salesforce.auth;
  if (auth.flow === 'jwt') {
    return { kind: 'jwt-bearer', loginUrl: config.salesforce.loginUrl, clientId: auth.clientId, username: auth.username, privateKeyPem: fs.readFileSync(auth.privateKeyFile, 'utf8') };
  }
  return { kind: 'client-credentials', loginUrl: config.salesforce.loginUrl, clientId: auth.clientId, clientSecret: auth.clientSecret };
}
