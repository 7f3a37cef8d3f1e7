// Copies the middleware's decisions (its audit_log) to the org's OptOutSync_Audit__c, so that an admin can report on
// them in Salesforce (R8). The Audit_Level__c setting chooses which: FAILURES (the default), SALESFORCE_CHANGES
// (those and every decision that wrote a Contact or Lead) or ALL. Rows are sent in sObject Collections of 200, in
// audit order, behind a cursor (the last audit_log id sent) moved after every call that answered: a failed call is
// sent again on the next run, a call Salesforce answered is never repeated. The audit object is not change-tracked,
// so these inserts cause no stream events (no echo).
import { z } from 'zod';
import type { Logger } from 'pino';
import type { Store } from '../store';
import type { SalesforceRestClient } from '../salesforce/salesforce-rest';
import { SalesforceApiError } from '../salesforce/salesforce-errors';
import { auditObject } from '../salesforce/package-names';
import type { AuditLevel, Settings } from '../sync/settings';

const CURSOR_KEY = 'salesforce-audit-export:last-id';
/** Audit rows looked at per query (ten full Collections calls at most). */
export const AUDIT_EXPORT_BATCH = 2000;
const TEXT_LENGTH = 255;
const emailPattern = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const recordIdPattern = /^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$/;

const row = z.object({
  id: z.coerce.number(),
  occurred_at: z.coerce.date(),
  direction: z.enum(['sf_to_ac', 'ac_to_sf', 'internal']),
  email_norm: z.string().nullable(),
  record_id: z.string().nullable(),
  old_value: z.string().nullable(),
  new_value: z.string().nullable(),
  decision: z.string(),
  reason: z.string(),
  result: z.string(),
});
export type AuditRow = z.infer<typeof row>;

/** A decision that failed or was given up on: what an admin must look at. */
function isFailure(r: AuditRow): boolean {
  return r.decision === 'dead-letter' || r.result.startsWith('failed');
}

/** A decision that changed a Contact or Lead (the pull path's written updates). */
function changedSalesforce(r: AuditRow): boolean {
  return r.direction === 'ac_to_sf' && r.decision === 'update-salesforce' && r.result === 'written';
}

export function exportedAt(level: AuditLevel, r: AuditRow): boolean {
  if (level === 'ALL') return true;
  if (level === 'SALESFORCE_CHANGES') return isFailure(r) || changedSalesforce(r);
  return isFailure(r);
}

const f = auditObject.fields;

/**
 * How Result__c begins for a failure in the org, followed by the error: the app page (OptOutSyncAdminController) lists
 * rows that begin so, and admins filter reports on them ("Result starts with FAILED"). An offline gate
 * (test/package/org-contract.test.ts) checks the Apex side lists the same.
 */
export const FAILURE_RESULT_PREFIX = { failed: 'FAILED', deadLetter: 'DEAD_LETTER' } as const;

/** Result__c of a row: a failure begins with its prefix whatever the worker wrote ('failed: ...', the bare error of a dead letter). */
function resultOf(r: AuditRow): string {
  if (r.decision === 'dead-letter') return `${FAILURE_RESULT_PREFIX.deadLetter}: ${r.result}`;
  if (r.result.startsWith('failed')) return `${FAILURE_RESULT_PREFIX.failed}${r.result.slice('failed'.length)}`;
  return r.result;
}

export function toAuditRecord(r: AuditRow): Record<string, unknown> {
  const cut = (value: string | null) => (value === null ? null : value.slice(0, TEXT_LENGTH));
  return {
    [f.direction]: r.direction.toUpperCase(),
    // The field is of type Email: an address Salesforce would refuse is left out rather than losing the row.
    [f.email]: r.email_norm !== null && emailPattern.test(r.email_norm) && r.email_norm.length <= 80 ? r.email_norm : null,
    [f.recordId]: r.record_id !== null && recordIdPattern.test(r.record_id) ? r.record_id : null,
    [f.oldValue]: cut(r.old_value),
    [f.newValue]: cut(r.new_value),
    [f.reason]: cut(`${r.decision}: ${r.reason}`),
    [f.result]: cut(resultOf(r)),
    [f.occurredAt]: r.occurred_at.toISOString(),
  };
}

export interface AuditExportSummary {
  looked: number;
  sent: number;
  refused: number;
}

export class SalesforceAuditExport {
  private running: Promise<AuditExportSummary> | null = null;

  constructor(
    private readonly deps: {
      store: Store;
      rest: Pick<SalesforceRestClient, 'insertRecords'>;
      settings: () => Settings;
      logger: Logger;
    },
  ) {}

  /** One run at a time; a call while one runs joins it. */
  exportOnce(): Promise<AuditExportSummary> {
    if (this.running !== null) return this.running;
    const run = this.run().finally(() => {
      this.running = null;
    });
    this.running = run;
    return run;
  }

  private async run(): Promise<AuditExportSummary> {
    const { store } = this.deps;
    const summary: AuditExportSummary = { looked: 0, sent: 0, refused: 0 };
    let cursor = await store.kv.get(CURSOR_KEY, z.number());
    if (cursor === null) {
      // First run: the org gets the decisions from now on, not the history (it may be months of it).
      const newest = await store.db.query(`SELECT COALESCE(MAX(id), 0) AS id FROM audit_log`);
      cursor = z.coerce.number().parse((newest.rows[0] as { id: unknown } | undefined)?.id ?? 0);
      await store.kv.set(CURSOR_KEY, cursor);
      return summary;
    }
    for (;;) {
      const level = this.deps.settings().auditLevel;
      const result = await store.db.query(
        `SELECT id, occurred_at, direction, email_norm, record_id, old_value, new_value, decision, reason, result FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2`,
        [cursor, AUDIT_EXPORT_BATCH],
      );
      const rows = result.rows.map((r) => row.parse(r));
      if (rows.length === 0) break;
      summary.looked += rows.length;
      const chosen = rows.filter((r) => exportedAt(level, r));
      const lastLooked = rows[rows.length - 1]!.id;
      if (chosen.length > 0) {
        let saved;
        try {
          saved = await this.deps.rest.insertRecords(auditObject.apiName, chosen.map(toAuditRecord), async (done) => {
            // Everything up to the last row of this call is in the org (or refused for good): never send it again.
            const upTo = done === chosen.length ? lastLooked : chosen[done - 1]!.id;
            await store.kv.set(CURSOR_KEY, upTo);
          });
        } catch (error) {
          // INVALID_TYPE: the package is not installed; there is nowhere to copy to, so nothing waits.
          if (error instanceof SalesforceApiError && error.errorCode === 'INVALID_TYPE') {
            await store.kv.set(CURSOR_KEY, lastLooked);
            break;
          }
          throw error;
        }
        const refused = saved.filter((s) => !s.success);
        summary.sent += saved.length - refused.length;
        summary.refused += refused.length;
        if (refused.length > 0) {
          this.deps.logger.warn({ refused: refused.length, errors: [...new Set(refused.flatMap((s) => s.errors.map((e) => e.statusCode)))] }, 'audit rows refused by Salesforce');
        }
      } else {
        await store.kv.set(CURSOR_KEY, lastLooked);
      }
      cursor = lastLooked;
      if (rows.length < AUDIT_EXPORT_BATCH) break;
    }
    if (summary.looked > 0) this.deps.logger.info({ ...summary }, 'decisions copied to the Salesforce audit object');
    return summary;
  }
}
