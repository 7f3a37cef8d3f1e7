// What a full reconciliation finds out of step for one person (one email), as plain data. It judges with the same
// rules as the live paths, so that a fix it queues is one the workers would make, and a state the rules accept
// (a newer subscribe in AC after a Salesforce opt-out, a Salesforce opt-in newer than an AC unsubscribe, a sticky
// opt-out) is not drift:
// - Salesforce -> AC (R1): a record is opted out and the contact still has an active or unconfirmed list that was
//   not joined after the opt-out (the push worker keeps those: newest wins). The opt-out is dated by
//   dateReadValue (a read never stamps "now"): an opt-out never seen on the stream takes LastModifiedDate.
// - AC -> Salesforce (R3, R4): the contact is unsubscribed from all lists or hard-bounced, and planSalesforceWrites
//   (the pull worker's own plan) would write some record; an opt-in of unknown time is old, so the opt-out wins.
// R5 (a subscribe in AC opting a record back in) is never derived from a state: a contact's active lists do not say
// the person joined them (imports and integrations add people too, R2), and in doubt the opt-out wins. The live
// paths see R5 as a transition; the reconciliation leaves it to them.
import type { AcContactState } from '../sync/ac-transitions';
import { isUnsubscribedFromAll } from '../sync/ac-transitions';
import { dateReadValue, optOutRecency, UNKNOWN_AND_OLD, type KnownOptOut } from '../sync/opt-out-recency';
import type { PullJobPayload } from '../sync/pull-job';
import { planSalesforceWrites } from '../sync/salesforce-write-plan';
import type { Settings } from '../sync/settings';

export interface SalesforceRecordRead {
  recordId: string;
  objectName: 'Contact' | 'Lead';
  optedOut: boolean;
  lastModified: Date;
}

export type Drift =
  | {
      direction: 'sf-to-ac';
      email: string;
      /** The opted-out records and the moment each opt-out is dated to (never a fresh "now"). */
      records: (SalesforceRecordRead & { optOutAt: Date })[];
      acContactId: string;
      /** Lists still active or unconfirmed that were not joined after the opt-out. */
      listIds: string[];
    }
  | { direction: 'ac-to-sf'; email: string; pull: PullJobPayload; recordIds: string[] };

const ACTIVE_OR_UNCONFIRMED = new Set([0, 1]);

export function planDrift(
  email: string,
  records: SalesforceRecordRead[],
  contact: AcContactState,
  known: Map<string, KnownOptOut>,
  settings: Settings,
  /** When the person left each unsubscribed list (AC's udate). */
  unsubscribedAt: Record<string, Date> = {},
): Drift[] {
  const drifts: Drift[] = [];
  if (settings.pushEnabled) {
    const optedOut = records
      .filter((r) => r.optedOut)
      .map((r) => {
        const k = known.get(r.recordId);
        // The record now carries another address than the one its opt-out was recorded under (an Email edit the
        // stream missed): for this address the opt-out holds from the edit, LastModifiedDate at the latest, so every
        // list it joined before is unsubscribed (item 6: R1 applies to the record's current email).
        const moved = k?.email !== undefined && k.email !== email;
        return { ...r, optOutAt: moved ? r.lastModified : (dateReadValue({ optedOut: true, lastModified: r.lastModified }, k).changedAt ?? r.lastModified) };
      });
    if (optedOut.length > 0) {
      // The push worker unsubscribes from every list whose subscribe is not newer than the earliest pending opt-out.
      const earliest = Math.min(...optedOut.map((r) => r.optOutAt.getTime()));
      const lagging = Object.entries(contact.listStatuses)
        .filter(([listId, status]) => ACTIVE_OR_UNCONFIRMED.has(status) && !(status === 1 && (contact.subscribedAt[listId]?.getTime() ?? -Infinity) > earliest))
        .map(([listId]) => listId)
        .sort();
      if (lagging.length > 0) drifts.push({ direction: 'sf-to-ac', email, records: optedOut, acContactId: contact.acContactId, listIds: lagging });
    }
  }
  if (settings.pullEnabled && (contact.hardBounced || isUnsubscribedFromAll(contact.listStatuses))) {
    const pull: PullJobPayload = {
      email,
      acContactId: contact.acContactId,
      optOut: true,
      hardBounced: contact.hardBounced,
      rule: contact.hardBounced ? 'R4' : 'R3',
      acEventAt: (acActionAt(contact, unsubscribedAt) ?? UNKNOWN_AND_OLD).toISOString(),
    };
    const states = records.map((r) => ({
      id: r.recordId,
      objectName: r.objectName,
      email,
      optedOut: r.optedOut,
      hardBouncedFlag: null,
      optOutChangedAt: optOutRecency({ optedOut: r.optedOut, lastModified: r.lastModified }, known.get(r.recordId)).optOutChangedAt,
      lastModified: r.lastModified,
    }));
    const plan = planSalesforceWrites(pull, states, settings, { customFields: false, now: UNKNOWN_AND_OLD });
    if (plan.writes.length > 0) drifts.push({ direction: 'ac-to-sf', email, pull, recordIds: plan.writes.map((w) => w.id) });
  }
  return drifts;
}

/**
 * When the person's unsubscribe or the bounce happened in AC: the newest unsubscribe date of a list (udate), else
 * the contact's last update. Null when AC gave neither (then the Salesforce side's known opt-in decides).
 */
function acActionAt(contact: AcContactState, unsubscribedAt: Record<string, Date>): Date | null {
  const dates = Object.values(unsubscribedAt).map((d) => d.getTime());
  if (dates.length > 0) return new Date(Math.max(...dates));
  return contact.acUpdatedAt;
}
