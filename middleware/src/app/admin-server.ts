// The HTTP side: the main listener (health, readiness, metrics, status, admin API, and the webhook receiver unless
// it has its own) and, when WEBHOOK_HTTP_PORT is set, the public webhook listener. Status and readiness are read
// from the subsystems here.
import http from 'node:http';
import type { SubscriberState } from '../salesforce/streaming-subscriber';
import type { PermissionFinding } from '../salesforce/salesforce-permissions';
import type { AcReachability } from '../server/ac-readiness';
import type { ConsentHealthReport } from '../workers/consent-health';
import type { FullReconciler } from '../reconcile/full-reconciler';
import type { SalesforceIntake } from '../workers/salesforce-intake';
import { createResyncRequests } from '../workers/resync-requests';
import { createHttpApp, createWebhookApp } from '../server/http-app';
import { listen, slowSenderLimits } from '../server/listen';
import { pushJobKind } from '../sync/push-job';
import { pullJobKind } from '../sync/pull-job';
import type { AppContext } from './app-context';
import type { Leadership } from './leadership';
import type { LeaderStream } from './event-stream';
import type { ReversePath } from './reverse-path';
import type { Reconciliation } from './reconcile';

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

export interface AdminServer {
  url: string;
  /** The separate webhook listener's URL when WEBHOOK_HTTP_PORT is set; null when the main listener serves it. */
  webhookUrl: string | null;
  status(): Promise<AppStatus>;
  close(): Promise<void>;
}

export interface AdminServerParts {
  instanceId: string;
  leadership: Leadership;
  stream: LeaderStream;
  intake: SalesforceIntake;
  reverse: ReversePath;
  reconciliation: Reconciliation;
}

/** Builds both listeners and listens; on a failure to listen, whatever listens is closed again and the error thrown. */
export async function startAdminServer(ctx: AppContext, parts: AdminServerParts): Promise<AdminServer> {
  const { config, store, metrics, logger, clock, links, salesforce, activecampaign, health } = ctx;
  const { leadership, stream, reverse, reconciliation } = parts;
  const { rest, settings, permissions } = salesforce;

  const status = async (): Promise<AppStatus> => {
    const s = stream.state();
    return {
      instanceId: parts.instanceId,
      leader: leadership.isLeader(),
      settingsSource: settings.source,
      stream: s === null ? null : { ...s, connectedSince: stream.connectedSince() },
      queue: await store.jobs.counts(),
      acReachable: activecampaign.readiness.known(),
      lastPollAt: reverse.pollSchedule.lastPollAt()?.toISOString() ?? null,
      health: await health.report(),
      salesforcePermissions: permissions.findings(),
      reconciliation: reconciliation.fullReconciler.state(),
      salesforceApi: { used: rest.apiUsage()?.used ?? null, max: rest.apiUsage()?.max ?? null, writesPausedUntil: reverse.worker.salesforcePause()?.until.toISOString() ?? null },
    };
  };

  const resync = createResyncRequests({ store, reader: ctx.reader, readRecords: ctx.readRecords, intake: parts.intake, clock, onQueued: () => links.pokePush() });
  const httpApp = createHttpApp({
    store,
    metrics,
    logger,
    adminToken: config.http.adminToken,
    webhookSecret: config.http.webhookSecret,
    onWebhookAccepted: () => links.pokeWebhooks(),
    status,
    ready: async () => {
      await store.db.query('SELECT 1');
      const s = stream.state() ?? undefined;
      const ac = await activecampaign.readiness.check();
      const report = await health.report();
      const leader = leadership.isLeader();
      const streamUp = leader ? s?.connected === true : 'standby';
      // An operator woken by a 503 reads why the stream is down and when it tries again, without the logs.
      const streamDetail = streamUp === false && s !== undefined ? { status: s.status, nextAttemptAt: s.nextAttemptAt === null ? null : new Date(s.nextAttemptAt).toISOString(), lastError: s.lastError } : undefined;
      return { database: true, stream: streamUp, leader, ac, degraded: report.reasons, ...(streamDetail === undefined ? {} : { streamDetail }) };
    },
    resyncEmail: resync.resyncEmail,
    resyncRecord: resync.resyncRecord,
    acRateLimitPerSecond: config.activecampaign.rateLimitPerSecond,
    reconcile: (reason) => reconciliation.reconciler.reconcile(['Contact', 'Lead'], null, reason),
    fullReconciler: () => reconciliation.fullReconciler,
    retryDeadLetter: async (id) => (await store.jobs.retryDeadLetter(pushJobKind, id)) || store.jobs.retryDeadLetter(pullJobKind, id),
    onBackfillQueued: (direction) => (direction === 'sf-to-ac' ? links.pokePush() : links.pokePull()),
    serveWebhook: config.http.webhook === undefined,
    listNames: async () => (await activecampaign.ac.listLists()).map((l) => ({ id: String(l.id), name: l.name })),
  });
  const server = http.createServer(slowSenderLimits, httpApp);
  // The public face (WEBHOOK_HTTP_PORT): the webhook receiver alone, on its own listener.
  const webhookServer = config.http.webhook === undefined ? null : http.createServer(slowSenderLimits, createWebhookApp({ store, metrics, logger, webhookSecret: config.http.webhookSecret, onWebhookAccepted: () => links.pokeWebhooks() }));
  const close = async () => {
    for (const s of [server, webhookServer]) {
      if (s === null || !s.listening) continue;
      await new Promise<void>((resolve) => s.close(() => resolve()));
      s.closeAllConnections();
    }
  };
  try {
    const url = `http://${config.http.host}:${await listen(server, config.http.port, config.http.host, 'HTTP_PORT')}`;
    let webhookUrl: string | null = null;
    if (webhookServer !== null && config.http.webhook !== undefined) {
      webhookUrl = `http://${config.http.webhook.host}:${await listen(webhookServer, config.http.webhook.port, config.http.webhook.host, 'WEBHOOK_HTTP_PORT')}`;
    }
    return { url, webhookUrl, status, close };
  } catch (error) {
    await close();
    throw error;
  }
}
