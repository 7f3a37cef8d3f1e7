// Reads the Salesforce side of an email: every Contact and Lead carrying it, with what the rules need.
import { z } from 'zod';
import type { SalesforceRestClient } from '../salesforce/salesforce-rest';
import { syncStateFields, syncedObjects, type SyncedObject } from '../salesforce/package-names';
import type { SalesforceRecordState } from '../sync/salesforce-write-plan';
import type { Store } from '../store';
import { optOutRecency } from '../sync/opt-out-recency';
import type { OptOutHistory } from '../salesforce/opt-out-history';


export interface SalesforceRecordReader {
  /** Contacts and unconverted Leads of these emails. */
  readByEmails(emails: string[]): Promise<SalesforceRecordState[]>;
  /** Converted Leads of these emails: Salesforce refuses every update to them, so they are audited as skipped. */
  readConvertedLeads?(emails: string[]): Promise<ConvertedLead[]>;
}

export type ConvertedLead = { id: string; email: string };

/**
 * Some synced objects could be read and some could not (a field hidden on Contact only, a sharing rule): the records
 * read are kept, so that one object's failure does not hold back the other records of an email. Callers that need
 * the whole picture treat it as the failure it also is.
 */
export class PartialRecordRead extends Error {
  constructor(
    readonly records: SalesforceRecordState[],
    readonly unreadable: { objectName: SyncedObject; error: unknown }[],
  ) {
    super(`reading ${unreadable.map((u) => u.objectName).join(', ')} failed: ${unreadable.map((u) => (u.error instanceof Error ? u.error.message : String(u.error))).join('; ')}`);
    this.name = 'PartialRecordRead';
  }

  /** The first object's error: what classifies the failure (a session, a limit, a hidden field). */
  get firstError(): unknown {
    return this.unreadable[0]?.error;
  }
}

/**
 * A converted Lead can no longer be updated (CANNOT_UPDATE_CONVERTED_LEAD); its person lives on as the Contact it
 * became, which carries the opt-out from then on.
 */
export const unconvertedLeads = 'IsConverted = false';

export function createSalesforceRecordReader(deps: {
  rest: SalesforceRestClient;
  store: Store;
  optOutField: () => string;
  customFields: () => Promise<boolean>;
  /** The org's field history of the opt-out field, where tracked: dates changes the stream did not show. */
  history?: OptOutHistory;
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
      const unreadable: { objectName: SyncedObject; error: unknown }[] = [];
      for (const objectName of syncedObjects) {
        try {
          const found = await deps.rest.findRecordsByEmails(objectName, emails, fields, schema, objectName === 'Lead' ? { condition: unconvertedLeads } : {});
          records.push(...found.map((r) => ({ ...r, objectName: objectName as SyncedObject, optOutChangedAt: null })));
        } catch (error) {
          unreadable.push({ objectName, error });
        }
      }
      if (unreadable.length === syncedObjects.length) throw unreadable[0]!.error;
      // Recency for R3/R5: the commit time of the newest opt-out change the stream gave us, unless the record was
      // modified since in a way nothing we know explains (sync/opt-out-recency.ts).
      const known = await deps.store.links.lastObserved(records.map((r) => r.id));
      // Salesforce's own record of when the opt-out changed, where the org tracks the field's history. Asked for
      // every record, not only those we never saw change: a time we hold may itself be a bound from an earlier
      // read (a resync, a gap re-read), and the history's exact moment is what R3/R5 should compare. Costs one
      // query an object a batch, only in orgs that track the field.
      const historyAt = new Map<string, Date>();
      if (deps.history !== undefined) {
        for (const objectName of syncedObjects) {
          for (const [id, at] of await deps.history.lastChanges(objectName, records.filter((r) => r.objectName === objectName), optOutField)) historyAt.set(id, at);
        }
      }
      const dated = records.map((r) => ({ ...r, ...optOutRecency({ optedOut: r.optedOut, lastModified: r.lastModified }, known.get(r.id), historyAt.get(r.id) ?? null) }));
      if (unreadable.length > 0) throw new PartialRecordRead(dated, unreadable);
      return dated;
    },
    async readConvertedLeads(emails) {
      const schema = z.object({ Id: z.string(), Email: z.string().nullable() }).transform((r) => ({ id: r.Id, email: (r.Email ?? '').toLowerCase() }));
      return deps.rest.findRecordsByEmails('Lead', emails, ['Id', 'Email'], schema, { condition: 'IsConverted = true' });
    },
  };
}
