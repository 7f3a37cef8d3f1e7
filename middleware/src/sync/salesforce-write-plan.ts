// Decides which Salesforce records to write for an ActiveCampaign decision (R3, R4, R5, R6) as plain data.
import type { PullJobPayload } from './pull-job';
import { syncStateFields } from '../salesforce/package-names';
import type { Settings } from './settings';

export interface SalesforceRecordState {
  id: string;
  objectName: 'Contact' | 'Lead';
  email: string;
  optedOut: boolean;
  hardBouncedFlag: boolean | null;
  /** Newest moment the opt-out value changed in Salesforce, as far as we know (sync/opt-out-recency.ts). */
  optOutChangedAt: Date | null;
  /** The record was modified after everything we know of it, at this moment: the stream may still deliver why. */
  unseenChangeAt?: Date | null;
  /** LastModifiedDate as read: an opt-in is written only if the record was not modified since. */
  lastModified?: Date;
}

export interface PlannedWrite {
  objectName: 'Contact' | 'Lead';
  id: string;
  fields: Record<string, string | boolean | null>;
  /**
   * Write only if Salesforce did not modify the record after this moment. Set on R5's opt-ins: a person's opt-out
   * committed between our read and our write must not be overwritten (the unsafe direction). Opt-outs need no
   * condition: overwriting an opt-in made in that moment errs on the side of the opt-out, and the stream brings it.
   */
  unlessModifiedSince?: Date;
}

export interface PlannedDecision {
  recordId: string;
  oldValue: string;
  newValue: string;
  decision: 'write' | 'skip';
  reason: string;
}

export interface WritePlan {
  writes: PlannedWrite[];
  decisions: PlannedDecision[];
}

export function planSalesforceWrites(
  job: PullJobPayload,
  records: SalesforceRecordState[],
  settings: Settings,
  options: { customFields: boolean; now: Date },
): WritePlan {
  const writes: PlannedWrite[] = [];
  const decisions: PlannedDecision[] = [];
  const acEventAt = new Date(job.acEventAt);
  for (const record of records) {
    const fields: Record<string, string | boolean | null> = {};
    let reason: string;
    if (job.hardBounced) {
      reason = 'R4: hard bounce in ActiveCampaign';
      if (settings.hardBounceOptsOut && !record.optedOut) fields[settings.optOutField] = true;
      if (options.customFields && record.hardBouncedFlag !== true) fields[syncStateFields.hardBounced] = true;
      if (options.customFields && Object.keys(fields).length > 0) {
        fields[syncStateFields.acStatus] = 'Bounced';
        if (fields[settings.optOutField] === true) fields[syncStateFields.optOutSource] = 'ActiveCampaign Bounce';
      }
    } else if (job.optOut) {
      reason = 'R3: unsubscribed from all ActiveCampaign lists';
      if (!record.optedOut && record.optOutChangedAt !== null && wholeSeconds(record.optOutChangedAt) > wholeSeconds(acEventAt)) {
        // Newest wins: the record was opted in after the unsubscribe happened.
        reason = `R3 refused: the Salesforce opt-in (${record.optOutChangedAt.toISOString()}) is newer than the unsubscribe (${job.acEventAt})`;
      } else if (!record.optedOut) {
        fields[settings.optOutField] = true;
        if (options.customFields) {
          fields[syncStateFields.acStatus] = 'Unsubscribed';
          fields[syncStateFields.optOutSource] = 'ActiveCampaign Unsubscribe';
        }
      }
    } else {
      reason = 'R5: subscribed again in ActiveCampaign';
      if (record.optedOut) {
        if (record.hardBouncedFlag === true) {
          reason = 'R5 refused: the record is flagged hard-bounced';
        } else if (record.optOutChangedAt !== null && wholeSeconds(record.optOutChangedAt) > wholeSeconds(acEventAt)) {
          // AC stamps whole seconds: within the same second neither is "newer", and the person's subscribe wins.
          reason = `R5 refused: the Salesforce opt-out (${record.optOutChangedAt.toISOString()}) is newer than the subscribe (${job.acEventAt})`;
        } else {
          fields[settings.optOutField] = false;
          if (options.customFields) {
            fields[syncStateFields.acStatus] = 'Subscribed';
            fields[syncStateFields.optOutSource] = null;
          }
        }
      }
    }
    if (Object.keys(fields).length === 0) {
      const why = reason.includes('refused') ? reason : `${reason}: the record already holds it`;
      decisions.push({ recordId: record.id, oldValue: String(record.optedOut), newValue: String(record.optedOut), decision: 'skip', reason: why });
      continue;
    }
    if (options.customFields) {
      // The sync-state fields ride on a write that changes the opt-out or the bounce flag anyway: they cost no call
      // of their own, and a decision that changes nothing writes nothing (no echo, no API use).
      fields[syncStateFields.lastSyncedAt] = options.now.toISOString();
      if (job.acContactId !== '') fields[syncStateFields.acContactId] = job.acContactId;
    }
    const optIn = fields[settings.optOutField] === false;
    writes.push({ objectName: record.objectName, id: record.id, fields, ...(optIn && record.lastModified !== undefined ? { unlessModifiedSince: record.lastModified } : {}) });
    decisions.push({
      recordId: record.id,
      oldValue: String(record.optedOut),
      newValue: String(settings.optOutField in fields ? fields[settings.optOutField] : record.optedOut),
      decision: 'write',
      reason,
    });
  }
  return { writes, decisions };
}

function wholeSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}
