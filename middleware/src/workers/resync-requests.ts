// Admin-requested resyncs ("bring this email / this record in line now"). Both read Salesforce first and queue
// what it holds now, through the same intake as the stream, so a resync obeys the same rules (R1, R2) and leaves
// the same audit trail as a change made by a person.
import type { SqlExecutor, Store } from '../store';
import type { Clock } from '../store/clock';
import type { OptOutChange } from '../salesforce/change-normaliser';
import type { SalesforceRecordReader } from './salesforce-records';
import type { RecordSnapshot } from './salesforce-intake';

/** Key prefixes of the objects this product syncs (the first three characters of every record id). */
const objectByPrefix: Record<string, 'Contact' | 'Lead'> = { '003': 'Contact', '00Q': 'Lead' };

export interface ResyncDeps {
  store: Store;
  reader: SalesforceRecordReader;
  readRecords(objectName: 'Contact' | 'Lead', recordIds: string[]): Promise<RecordSnapshot[]>;
  intake: { queue(tx: SqlExecutor, changes: OptOutChange[], correlation: Record<string, string>): Promise<void> };
  clock: Clock;
  onQueued: () => void;
}

export function createResyncRequests(deps: ResyncDeps) {
  // A resync reads the record: its changedAt is the record's LastModifiedDate, and the intake dates the value from
  // what it knew (a resync is a doorbell, never a change: "now" stamped on an unchanged opt-in once erased the
  // time of a real change and made R3 refuse an AC unsubscribe-all made a moment before).
  const asChange = (r: { recordId: string; objectName: 'Contact' | 'Lead'; email: string | null; optedOut: boolean; lastModified: Date }): OptOutChange => ({
    recordId: r.recordId,
    objectName: r.objectName,
    email: r.email,
    optedOut: r.optedOut,
    changedAt: r.lastModified,
    changedBy: null,
    changeOrigin: '',
    source: 'RESYNC',
    transactionKey: null,
    replayId: '',
    channel: 'admin',
  });
  const queue = async (changes: OptOutChange[], correlation: Record<string, string>) => {
    await deps.store.db.transaction((tx) => deps.intake.queue(tx, changes, correlation));
    if (changes.length > 0) deps.onQueued();
  };
  return {
    /** Queues every Contact and Lead carrying the email with its current opt-out value. */
    async resyncEmail(email: string): Promise<{ records: number }> {
      const records = await deps.reader.readByEmails([email]);
      await queue(records.map((r) => asChange({ recordId: r.id, objectName: r.objectName, email: r.email, optedOut: r.optedOut, lastModified: r.lastModified ?? deps.clock() })), { resync: 'email' });
      return { records: records.length };
    },
    /** Queues one record; false when it is not a Contact or Lead Salesforce knows. */
    async resyncRecord(recordId: string): Promise<boolean> {
      const objectName = objectByPrefix[recordId.slice(0, 3)];
      if (objectName === undefined) return false;
      const [record] = await deps.readRecords(objectName, [recordId]);
      if (record === undefined) return false;
      await queue([asChange(record)], { resync: 'record', recordId });
      return true;
    },
  };
}
