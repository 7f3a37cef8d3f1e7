// The ActiveCampaign edge: one request budget for the account, shared by clients of different priority.
import type { Logger } from 'pino';
import type { AppConfig } from '../config/load-config';
import type { Database } from '../store/database';
import type { Clock } from '../store/clock';
import type { Metrics } from '../observability/metrics';
import { ActiveCampaignClient } from '../activecampaign/activecampaign-client';
import { PrioritizedBudget, TokenBucket, type RequestPriority } from '../activecampaign/rate-limiter';
import { SharedRequestBudget } from '../store/shared-request-budget';
import { AcReadiness } from '../server/ac-readiness';
import type { AppTiming } from './app-timing';

export interface ActiveCampaignEdge {
  /** A client on one lane of the account's budget. */
  client(priority: RequestPriority): ActiveCampaignClient;
  /** The background lane: poller, webhook confirmations, list names, readiness probe. */
  ac: ActiveCampaignClient;
  /** The urgent lane: opt-outs on their way to AC. */
  acForOptOuts: ActiveCampaignClient;
  readiness: AcReadiness;
}

export function connectActiveCampaign(config: AppConfig, timing: AppTiming, deps: { db: Database; logger: Logger; metrics: Metrics; clock: Clock }): ActiveCampaignEdge {
  const { db, logger, metrics, clock } = deps;
  // AC's limit is per account: on PostgreSQL (several instances) the budget lives in the database. Opt-outs on
  // their way to AC go ahead of the background readers (poller, webhook confirmations) within this process.
  const acBudget = new PrioritizedBudget(
    db.kind === 'postgres' ? new SharedRequestBudget(db, 'activecampaign', config.activecampaign.rateLimitPerSecond) : new TokenBucket({ ratePerSecond: config.activecampaign.rateLimitPerSecond }),
  );
  const client = (priority: RequestPriority) =>
    new ActiveCampaignClient({
      apiUrl: config.activecampaign.apiUrl,
      apiToken: config.activecampaign.apiToken,
      rateLimiter: acBudget.lane(priority),
      timeoutMs: timing.acTimeoutMs,
      logger,
      onRequest: (info) => metrics.observeAcRequest(info),
    });
  const ac = client('background');
  // One cheap page of "contacts updated since now" (usually empty), sent only when no real traffic proved AC is up.
  const readiness = new AcReadiness({ usage: metrics.acUsage, probe: () => ac.listContactsUpdatedSince({ updatedAfter: clock(), limit: 1 }), now: () => clock().getTime() });
  return { client, ac, acForOptOuts: client('urgent'), readiness };
}
