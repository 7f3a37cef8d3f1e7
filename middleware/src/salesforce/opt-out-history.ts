// Field history of the opt-out field (ContactHistory / LeadHistory), where the org tracks it. The stream tells us
// when an opt-out changed only for changes it delivered; a record changed before the install, during a gap the
// stream could not replay, or read by a resync has only bounds (sync/opt-out-recency.ts). When an admin tracks the
// opt-out field's history (Setup > Set History Tracking), Salesforce has written the exact moment: a row per change
// with `Field` = the field's API name, `NewValue` the value it took and `CreatedDate` when.
//
// Trust is checked, not assumed: history counts only while FieldDefinition says the field is tracked now (a row
// from before tracking was switched off would hide later changes), and only a row whose NewValue is the value the
// record holds (anything else means a change the history does not show).
import { z } from 'zod';
import type { SalesforceRestClient } from './salesforce-rest';
import { chunkInLists, soqlString } from './salesforce-rest';
import type { SyncedObject } from './package-names';

/** How long the answer "is the opt-out field tracked?" is kept: an admin switching tracking is rare. */
const TRACKING_CHECK_TTL_MS = 10 * 60_000;

export interface OptOutHistory {
  /** Record id -> when its opt-out field last took the value it holds (only records the history dates). */
  lastChanges(objectName: SyncedObject, records: readonly { id: string; optedOut: boolean }[], optOutField: string): Promise<Map<string, Date>>;
}

const trackingRow = z.object({ QualifiedApiName: z.string(), IsFieldHistoryTracked: z.boolean() });
const historyRow = (parentField: string) =>
  z.object({ [parentField]: z.string(), NewValue: z.unknown(), CreatedDate: z.string() }).transform((r) => ({ parentId: String(r[parentField]), newValue: r.NewValue, at: new Date(String(r.CreatedDate)) }));

/** NewValue is anyType: a Checkbox's history holds booleans; be lenient with their text form. */
function asBoolean(value: unknown): boolean | null {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  return null;
}

export function createOptOutHistory(deps: { rest: Pick<SalesforceRestClient, 'query'>; now?: () => number; onUnavailable?: (objectName: SyncedObject, error: unknown) => void }): OptOutHistory {
  const now = deps.now ?? Date.now;
  const tracking = new Map<string, { tracked: boolean; until: number }>();

  async function isTracked(objectName: SyncedObject, field: string): Promise<boolean> {
    const key = `${objectName}.${field}`;
    const cached = tracking.get(key);
    if (cached !== undefined && cached.until > now()) return cached.tracked;
    let tracked = false;
    try {
      const rows = await deps.rest.query(`SELECT QualifiedApiName, IsFieldHistoryTracked FROM FieldDefinition WHERE EntityDefinitionId = ${soqlString(objectName)} AND QualifiedApiName = ${soqlString(field)}`, trackingRow);
      tracked = rows.some((r) => r.QualifiedApiName.toLowerCase() === field.toLowerCase() && r.IsFieldHistoryTracked);
    } catch (error) {
      // No access to setup entities, or an org that refuses the query: no history, the bounds apply as before.
      deps.onUnavailable?.(objectName, error);
    }
    tracking.set(key, { tracked, until: now() + TRACKING_CHECK_TTL_MS });
    return tracked;
  }

  return {
    async lastChanges(objectName, records, optOutField) {
      const out = new Map<string, Date>();
      if (records.length === 0 || !(await isTracked(objectName, optOutField))) return out;
      const holds = new Map(records.map((r) => [r.id, r.optedOut]));
      const parentField = `${objectName}Id`;
      const schema = historyRow(parentField);
      const newest = new Map<string, { at: Date; newValue: unknown }>();
      try {
        for (const chunk of chunkInLists(records.map((r) => soqlString(r.id)))) {
          const rows = await deps.rest.query(
            `SELECT ${parentField}, NewValue, CreatedDate FROM ${objectName}History WHERE ${parentField} IN (${chunk.join(',')}) AND Field = ${soqlString(optOutField)} ORDER BY CreatedDate DESC`,
            schema,
          );
          for (const row of rows) {
            const seen = newest.get(row.parentId);
            if (Number.isNaN(row.at.getTime())) continue;
            if (seen === undefined || row.at.getTime() > seen.at.getTime()) newest.set(row.parentId, { at: row.at, newValue: row.newValue });
          }
        }
      } catch (error) {
        // The history object is not readable for the integration user (View History is part of Read on the object,
        // but an org may restrict it): no dates from history.
        deps.onUnavailable?.(objectName, error);
        return out;
      }
      for (const [id, row] of newest) {
        // Ids in history rows are 18 characters, as the records' are.
        const holdsNow = holds.get(id);
        if (holdsNow !== undefined && asBoolean(row.newValue) === holdsNow) out.set(id, row.at);
      }
      return out;
    },
  };
}
