// The composition root: builds the running middleware from a typed configuration. Each step wires one subsystem
// in its own module (the edges, the push path, the reverse path, reconciliation, the relay-gap and audit reads,
// the event stream, the HTTP side); this file only orders them. Leadership decides which instance streams and
// polls; every instance works the queues.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AppConfig } from '../config/load-config';
import { DatabaseUnreachableError } from '../config/database-label';
import { createStore, openDatabase, type Store } from '../store';
import { systemClock, type Clock } from '../store/clock';
import { createLogger } from '../observability/logger';
import { createMetrics, type Metrics } from '../observability/metrics';
import type { FullReconciler } from '../reconcile/full-reconciler';
import { SettingsProvider } from '../salesforce/settings-provider';
import { defaultTiming, type AppTiming } from './app-timing';
import { AppLinks } from './app-links';
import { buildAppContext } from './app-context';
import { connectSalesforce, scheduleSettingsRefresh } from './salesforce-edge';
import { connectActiveCampaign } from './activecampaign-edge';
import { Leadership } from './leadership';
import { createIntake, wirePushPath } from './push-path';
import { registerAcWebhook, wireReversePath } from './reverse-path';
import { wireReconciliation } from './reconcile';
import { wireRelayGapsAndAudit } from './relay-gaps';
import { wireEventStream } from './event-stream';
import { startAdminServer, type AppStatus } from './admin-server';
import { startHousekeeping } from './housekeeping';

export { defaultTiming, type AppTiming } from './app-timing';
export type { AppStatus } from './admin-server';

export interface AppOptions {
  clock?: Clock;
  logger?: Logger;
  instanceId?: string;
  /** Test knobs: faster loops and leases than production needs. */
  timing?: Partial<AppTiming>;
}

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
  const salesforce = await connectSalesforce(config, timing, { logger, metrics, edgeClock });
  const activecampaign = connectActiveCampaign(config, timing, { db, logger, metrics, clock });
  const links = new AppLinks();
  const ctx = buildAppContext({ config, timing, db, store, clock, edgeClock, logger, metrics, links, salesforce, activecampaign });
  const leadership = new Leadership({ store, leaseTtlMs: timing.leaseTtlMs, logger });

  const intake = createIntake(ctx);
  const reconciliation = wireReconciliation(ctx, intake, leadership);
  const relayGaps = wireRelayGapsAndAudit(ctx, intake, leadership);
  const reverse = wireReversePath(ctx);
  const push = wirePushPath(ctx, intake, reverse.poller);
  const stream = wireEventStream(ctx, intake, leadership);
  // Order on becoming leader: stream, full-reconciliation schedule, polling, a relay-gap read; stopped in reverse.
  leadership.assign(stream.duty);
  leadership.assign(reconciliation.schedule);
  leadership.assign(reverse.polling);
  leadership.assign(relayGaps.onLeader);
  const settingsTask = scheduleSettingsRefresh(config, salesforce, relayGaps.readOnce);

  const server = await startAdminServer(ctx, { instanceId, leadership, stream, intake, reverse, reconciliation }).catch(async (error: unknown) => {
    settingsTask.stop();
    await salesforce.permissions.stop();
    await db.close();
    throw error;
  });

  const loops = [push.loop, reverse.pullLoop, reverse.webhookLoop, reconciliation.gapLoop];
  for (const loop of loops) loop.start();
  await leadership.check();
  const housekeeping = startHousekeeping(ctx, { leadership, stream });
  registerAcWebhook(config, activecampaign.ac, logger);
  logger.info({ url: server.url, webhookUrl: server.webhookUrl, database: db.kind, settings: salesforce.settings.source }, 'optout-sync started');

  return {
    url: server.url,
    webhookUrl: server.webhookUrl,
    instanceId,
    store,
    metrics,
    logger,
    settings: salesforce.settings,
    isLeader: () => leadership.isLeader(),
    status: server.status,
    pollNow: () => reverse.pollSchedule.runNow(),
    reconcileNow: (reason) => reconciliation.reconciler.reconcile(['Contact', 'Lead'], null, reason),
    fullReconciler: reconciliation.fullReconciler,
    async stop() {
      await housekeeping.stop();
      settingsTask.stop();
      await salesforce.permissions.stop();
      await leadership.release();
      await Promise.all(loops.map((loop) => loop.stop()));
      // A full reconciliation pass (scheduled or asked for) ends at its next page before the database closes.
      await reconciliation.fullReconciler.stop();
      await push.worker.idle();
      await server.close();
      await db.close();
    },
  };
}
