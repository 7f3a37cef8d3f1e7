// The timers beside the work loops: the leader lease and job lease renewal, the embedded store's maintenance, the
// consent-health gauges and retention pruning.
import { RetentionPruner, defaultRetention } from '../store/retention';
import type { AppContext } from './app-context';
import type { Leadership } from './leadership';
import type { LeaderStream } from './event-stream';

/** How often an embedded store is vacuumed and analyzed (PGlite has no autovacuum). */
const STORE_MAINTENANCE_EVERY_MS = 15 * 60_000;
/** How often the consent-health gauges (oldest pending opt-out, circuits) are brought up to date. */
const HEALTH_REFRESH_EVERY_MS = 5_000;
/** How often the leader prunes rows past their retention. */
const RETENTION_EVERY_MS = 3600_000;

export function startHousekeeping(ctx: AppContext, parts: { leadership: Leadership; stream: LeaderStream }): { stop(): Promise<void> } {
  const { db, store, clock, logger, health, timing, config } = ctx;
  const { leadership, stream } = parts;
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
    if (leadership.isLeader()) retention.pruneOnce().catch((err: unknown) => logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'retention pruning failed; the next hour tries again'));
  }, RETENTION_EVERY_MS);
  retentionTimer.unref();
  const leadershipTimer = setInterval(() => {
    stream.connectedSince();
    void leadership.check();
    // A missed renewal only risks a second run of a job by another instance, which is idempotent.
    store.jobs.renewLeases(timing.jobLeaseMs).catch((err: unknown) => logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'job lease renewal failed'));
  }, timing.leaseRenewMs);
  return {
    async stop() {
      clearInterval(leadershipTimer);
      clearInterval(maintenanceTimer);
      clearInterval(healthTimer);
      clearInterval(retentionTimer);
      await retention.stop();
    },
  };
}
