// The package's Apex side, read back on the settings schedule by the leader: what the relay recorded as not relayed
// (RELAY_GAP audit rows; a whole-object gap becomes a stream gap the gap loop reconciles), and the decisions the
// Audit_Level__c setting chooses, copied in batches to the org's audit object.
import { RelayGapReader } from '../workers/relay-gap-reader';
import { SalesforceAuditExport } from '../workers/salesforce-audit-export';
import type { SalesforceIntake } from '../workers/salesforce-intake';
import type { AppContext } from './app-context';
import type { LeaderDuty, Leadership } from './leadership';

export interface RelayGapsAndAudit {
  /** One round of both, on the leader only; a failure is logged and the next schedule retries. */
  readOnce(): void;
  /** A round when leadership is acquired. */
  onLeader: LeaderDuty;
}

export function wireRelayGapsAndAudit(ctx: AppContext, intake: SalesforceIntake, leadership: Leadership): RelayGapsAndAudit {
  const { store, logger, links, salesforce } = ctx;
  const { rest, settings } = salesforce;
  const relayGaps = new RelayGapReader({
    store,
    rest,
    intake,
    readRecords: ctx.readRecords,
    recordReconcile: async (objectName, reason) => {
      await store.replay.recordGap(`reconcile:${objectName}`, reason, null, null);
      links.pokeGaps();
    },
    logger,
  });
  const auditExport = new SalesforceAuditExport({ store, rest, settings: () => settings.get(), logger });
  const readOnce = () => {
    if (!leadership.isLeader()) return;
    auditExport.exportOnce().catch((err: unknown) => logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'decisions not copied to Salesforce; the next run retries'));
    if (!settings.get().pushEnabled) return;
    relayGaps.readOnce().catch((err: unknown) => logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'relay gaps not read; the next run retries'));
  };
  return { readOnce, onLeader: { start: readOnce, stop: () => undefined } };
}
