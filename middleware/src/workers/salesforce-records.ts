// Reads the Salesforce side of an email: every Contact and Lead carrying it, with what the rules need.
import { z } from 'zod';
import type { SalesforceRestClient } from '../salesforce/salesforce-rest';
import { syncStateFields, syncedObjects, type SyncedObject } from '../salesforce/package-names';
import type { SalesforceRecordState } from '../sync/salesforce-write-plan';
import type { Store } from '../store';

const linkRow = z.object({ sf_record_id: z.string(), opt_out_changed_at: z.coerce.date().nullable() });

export interface SalesforceRecordReader {
  readByEmails(emails: string[]): Promise<SalesforceRecordState[]>;
}

export function createSalesforceRecordReader(deps: {
  rest: SalesforceRestClient;
  store: Store;
  optOutField: () => string;
  customFields: () => Promise<boolean>;
}): SalesforceRecordReader {
  return {
    async readByEmails(emails) {
      const optOutField = deps.optOutField();
      const withCustom = await deps.customFields();
      const fields = ['Id', 'Email', optOutField, 'LastModifiedDate', ...(withCustom ? [syncStateFields.hardBounced] : [])];
      const schema = z
        .object({ Id: z.string(), Email: z.string().nullable(), LastModifiedDate: z.string() })
        .catchall(z.unknown())
        .transform((r) => ({
          id: r.Id,
          email: (r.Email ?? '').toLowerCase(),
          optedOut: r[optOutField] === true,
          hardBouncedFlag: withCustom ? r[syncStateFields.hardBounced] === true : null,
          lastModified: new Date(r.LastModifiedDate),
        }));
      const records: (SalesforceRecordState & { lastModified: Date })[] = [];
      for (const objectName of syncedObjects) {
        const found = await deps.rest.findRecordsByEmails(objectName, emails, fields, schema);
        records.push(...found.map((r) => ({ ...r, objectName: objectName as SyncedObject, optOutChangedAt: null })));
      }
      // Recency for R5: the commit time of the newest opt-out change we saw on the stream for the record; when we
      // never saw one, the record's LastModifiedDate stands in (an over-estimate, so a doubtful subscribe loses).
      const links = await deps.store.db.query(`SELECT sf_record_id, opt_out_changed_at FROM sf_ac_links WHERE sf_record_id = ANY($1::text[])`, [records.map((r) => r.id)]);
      const seen = new Map(links.rows.map((row) => linkRow.parse(row)).map((l) => [l.sf_record_id, l.opt_out_changed_at]));
      return records.map(({ lastModified, ...r }) => ({ ...r, optOutChangedAt: seen.get(r.id) ?? (r.optedOut ? lastModified : null) }));
    },
  };
}
