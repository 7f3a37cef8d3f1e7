// Reads what the package's Apex relay could not relay. When OptOutChangeEventHandler gives up publishing (retries
// spent, a refused publish), it writes an OptOutSync_Audit__c row with Result__c RELAY_GAP naming the record (or
// '003*' / '00Q*' for a whole object). Those rows are the durable remainder of a doorbell that never rang: this
// worker finds them, re-reads the records they name (the record's current value decides, dated as a gap read, so an
// unchanged value records no change time), reconciles the objects they name as a whole, and then marks the rows
// RELAY_GAP_READ so that they are not read again. Queueing commits before the rows are marked: a crash in between
// re-reads them once more, which is harmless (a gap read of an unchanged value changes nothing).
import { z } from 'zod';
import type { Logger } from 'pino';
import type { Store } from '../store';
import type { SalesforceRestClient } from '../salesforce/salesforce-rest';
import { SalesforceApiError } from '../salesforce/salesforce-errors';
import { auditObject, type SyncedObject } from '../salesforce/package-names';
import type { OptOutChange } from '../salesforce/change-normaliser';
import type { RecordSnapshot, SalesforceIntake } from './salesforce-intake';

/** Key prefixes of the synced objects (the first three characters of every record id). */
const objectByPrefix: Record<string, SyncedObject> = { '003': 'Contact', '00Q': 'Lead' };

/** Rows read per page: one query page. */
export const RELAY_GAP_BATCH = 2000;
/**
 * Pages one run reads at most. A relay storm (every event of several 4,900-event runs refused) leaves many thousand
 * rows; at one page a run they would wait hours on the five-minute schedule. Bounded, so that one run's API use is
 * bounded too; the rest waits for the next run.
 */
export const RELAY_GAP_PAGES_PER_RUN = 5;

const f = auditObject.fields;
const gapRowSchema = z.object({ Id: z.string(), [f.recordId]: z.string().nullish(), [f.occurredAt]: z.string().nullish() }).loose();

export interface RelayGapReaderDeps {
  store: Store;
  rest: Pick<SalesforceRestClient, 'query' | 'updateRecords'>;
  intake: Pick<SalesforceIntake, 'queue'>;
  readRecords(objectName: SyncedObject, recordIds: string[]): Promise<RecordSnapshot[]>;
  /** Records a durable whole-object reconcile (a stream gap the gap loop closes); resolved once stored. */
  recordReconcile(objectName: SyncedObject, reason: string): Promise<void>;
  logger: Logger;
}

export interface RelayGapSummary {
  rows: number;
  reread: number;
  reconciled: SyncedObject[];
  marked: number;
}

export class RelayGapReader {
  private running: Promise<RelayGapSummary> | null = null;

  constructor(private readonly deps: RelayGapReaderDeps) {}

  /** One run at a time: a call while one runs joins it (rows written meanwhile wait for the next run). */
  readOnce(): Promise<RelayGapSummary> {
    if (this.running !== null) return this.running;
    const run = this.run().finally(() => {
      this.running = null;
    });
    this.running = run;
    return run;
  }

  private async run(): Promise<RelayGapSummary> {
    const summary: RelayGapSummary = { rows: 0, reread: 0, reconciled: [], marked: 0 };
    for (let page = 0; page < RELAY_GAP_PAGES_PER_RUN; page++) {
      const read = await this.readPage();
      summary.rows += read.rows;
      summary.reread += read.reread;
      summary.marked += read.marked;
      for (const objectName of read.reconciled) if (!summary.reconciled.includes(objectName)) summary.reconciled.push(objectName);
      // A short page was the last; rows that could not be marked would come back on the next page: stop instead.
      if (read.rows < RELAY_GAP_BATCH || read.marked < read.rows) break;
    }
    return summary;
  }

  private async readPage(): Promise<RelayGapSummary> {
    const { rest, store } = this.deps;
    const summary: RelayGapSummary = { rows: 0, reread: 0, reconciled: [], marked: 0 };
    let rows: z.infer<typeof gapRowSchema>[];
    try {
      rows = await rest.query(
        `SELECT Id, ${f.recordId}, ${f.occurredAt} FROM ${auditObject.apiName} WHERE ${f.result} = '${auditObject.results.relayGap}' ORDER BY ${f.occurredAt} ASC LIMIT ${RELAY_GAP_BATCH}`,
        gapRowSchema,
      );
    } catch (error) {
      // INVALID_TYPE: the package is not installed, so there is no relay and nothing it could have missed.
      if (error instanceof SalesforceApiError && error.errorCode === 'INVALID_TYPE') return summary;
      throw error;
    }
    summary.rows = rows.length;
    if (rows.length === 0) return summary;

    const ids: Record<SyncedObject, Set<string>> = { Contact: new Set(), Lead: new Set() };
    const wholeObjects = new Set<SyncedObject>();
    for (const row of rows) {
      const recordId = (row[f.recordId] as string | null | undefined)?.trim() ?? '';
      const objectName = objectByPrefix[recordId.slice(0, 3)];
      if (objectName === undefined) {
        // No record named, or one of an object the relay does not know: in doubt, both objects.
        wholeObjects.add('Contact');
        wholeObjects.add('Lead');
      } else if (recordId.endsWith('*') || !/^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$/.test(recordId)) {
        wholeObjects.add(objectName);
      } else {
        ids[objectName].add(recordId);
      }
    }

    const changes: OptOutChange[] = [];
    for (const objectName of ['Contact', 'Lead'] as const) {
      // A whole-object reconcile covers the single records of that object too.
      if (wholeObjects.has(objectName) || ids[objectName].size === 0) continue;
      // A record that no longer exists is not read back: its deletion is the stream's and the reconciler's concern.
      for (const record of await this.deps.readRecords(objectName, [...ids[objectName]])) {
        changes.push({ ...record, changedAt: record.lastModified, changedBy: null, changeOrigin: '', source: 'GAP', transactionKey: null, replayId: '', channel: 'relay-gap' });
      }
    }
    await store.db.transaction(async (tx) => {
      await this.deps.intake.queue(tx, changes, { relayGap: `${rows.length} row(s)` });
    });
    summary.reread = changes.length;
    for (const objectName of wholeObjects) {
      await this.deps.recordReconcile(objectName, `the package's relay could not relay a change of ${objectName}`);
      summary.reconciled.push(objectName);
    }

    const results = await rest.updateRecords(
      auditObject.apiName,
      rows.map((row) => ({ Id: row.Id, [f.result]: auditObject.results.relayGapRead })),
    );
    summary.marked = results.filter((r) => r.success).length;
    const refused = results.filter((r) => !r.success);
    if (refused.length > 0) {
      // Read again next run: harmless, but an admin should know why the rows stay.
      this.deps.logger.warn({ refused: refused.length, errors: refused.slice(0, 3).map((r) => r.errors.map((e) => e.statusCode).join(',')) }, 'relay gap rows could not be marked as read');
    }
    await store.audit.record([{ direction: 'internal', email: null, decision: 'relay-gap', reason: 'R1: the package relay recorded changes it could not relay', result: `${rows.length} row(s): ${changes.length} record(s) re-read, ${summary.reconciled.join('+') || 'no object'} reconciled` }]);
    this.deps.logger.info({ ...summary }, 'relay gaps read');
    return summary;
  }
}
