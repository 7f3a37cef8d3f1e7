// What every subsystem's wiring shares: the store, the edges, the consent-health circuits, the record readers and
// the sync scope. Built once by startApp and handed to each wiring module.
import type { Logger } from 'pino';
import type { AppConfig } from '../config/load-config';
import type { Database, Store } from '../store';
import type { Clock } from '../store/clock';
import type { Clock as EdgeClock } from '../salesforce/logger-and-clock';
import type { RetryPolicy } from '../store/job-queue';
import type { Metrics } from '../observability/metrics';
import { ConsentHealth } from '../workers/consent-health';
import { createSyncScope, type SyncScope } from '../workers/sync-scope';
import { createSalesforceRecordReader, recordSnapshotReader, type SalesforceRecordReader } from '../workers/salesforce-records';
import type { RecordSnapshot } from '../workers/salesforce-intake';
import { createOptOutHistory } from '../salesforce/opt-out-history';
import type { AppTiming } from './app-timing';
import type { AppLinks } from './app-links';
import type { SalesforceEdge } from './salesforce-edge';
import type { ActiveCampaignEdge } from './activecampaign-edge';

export interface AppContext {
  config: AppConfig;
  timing: AppTiming;
  db: Database;
  store: Store;
  clock: Clock;
  edgeClock: EdgeClock;
  logger: Logger;
  metrics: Metrics;
  links: AppLinks;
  salesforce: SalesforceEdge;
  activecampaign: ActiveCampaignEdge;
  health: ConsentHealth;
  retry: RetryPolicy;
  /** Every Contact and Lead of an email, with what the rules need. */
  reader: SalesforceRecordReader;
  /** The current opt-out of records by id. */
  readRecords: (objectName: 'Contact' | 'Lead', recordIds: string[]) => Promise<RecordSnapshot[]>;
  scope: SyncScope;
  /** The Salesforce records of these ids the scope (Scope_Campaign_Ids__c) covers: all of them when unscoped. */
  recordsInScope: (ids: string[]) => Promise<Set<string>>;
  campaignScoped: () => boolean;
}

export function buildAppContext(base: Omit<AppContext, 'health' | 'retry' | 'reader' | 'readRecords' | 'scope' | 'recordsInScope' | 'campaignScoped'>): AppContext {
  const { config, timing, store, clock, metrics, links, salesforce } = base;
  const { rest, settings, permissions } = salesforce;
  const retry = { maxAttempts: config.jobs.maxAttempts, backoffBaseMs: config.jobs.backoffBaseMs, backoffCapMs: config.jobs.backoffCapMs, retryWindowMs: config.jobs.retryWindowMs };
  // The pull worker's pause at the org's daily API limit is a reason to be degraded (registered by the pull path).
  const health = new ConsentHealth({ store, clock, metrics, circuitOptions: { failureThreshold: timing.circuitFailureThreshold, firstProbeDelayMs: timing.circuitFirstProbeMs, maxProbeDelayMs: timing.circuitMaxProbeMs }, otherReasons: () => [...permissions.reasons(), ...links.writesPaused()] });
  const history = createOptOutHistory({ rest, onUnavailable: (objectName, error) => base.logger.info({ objectName, err: error instanceof Error ? error.message : String(error) }, 'opt-out field history not readable; change times keep their bounds') });
  const reader = createSalesforceRecordReader({ rest, store, optOutField: () => settings.get().optOutField, customFields: salesforce.customFields, history });
  const scope = createSyncScope({ rest, ac: base.activecampaign.ac, settings: () => settings.get() });
  const campaignScoped = () => settings.get().scopeCampaignIds.length > 0;
  return {
    ...base,
    health,
    retry,
    reader,
    readRecords: recordSnapshotReader(rest, () => settings.get().optOutField),
    scope,
    recordsInScope: async (ids) => (campaignScoped() ? scope.salesforceRecordsInScope(ids) : new Set(ids)),
    campaignScoped,
  };
}
