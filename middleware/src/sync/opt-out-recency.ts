// When did a Salesforce record's opt-out take its current value? R3 and R5 compare that moment with the person's
// action in ActiveCampaign (newest wins), so a wrong answer overwrites a newer choice of the person.
//
// We know the moment exactly only for changes the stream delivered (sf_ac_links). The pull path reads Salesforce
// before the stream has necessarily delivered every change (CDC lags by seconds; after a failover or an expired
// replay id, by as long as the gap takes to reconcile). Found by the chaos run: a re-subscribe older than a
// Salesforce opt-out the stream had not delivered yet was compared with the record's previous, older opt-in, and
// unchecked Email Opt Out over the person's newer opt-out. The record's LastModifiedDate gives the clue: a record
// modified after everything we know of it (the stream's last change, our own last write) may carry a change we have
// not seen.

/** How long the pull path waits for the stream to deliver a record's unseen change before it decides without. */
export const STREAM_CATCH_UP_MS = 60_000;

/** Our own writes are stamped with our clock after Salesforce answered; its clock may be a little ahead of ours. */
const OWN_WRITE_SKEW_MS = 2_000;

export interface KnownOptOut {
  /** The newest opt-out value the stream (or our own write) gave us, and when it changed. */
  optedOut: boolean | null;
  changedAt: Date | null;
  /** When this product last wrote the record (its LastModifiedDate up to then is explained). */
  writtenAt: Date | null;
  /** The newest commit time the stream delivered for the record, whatever changed (up to it, nothing is unseen). */
  streamSeenAt: Date | null;
}

export interface OptOutRecency {
  /** The moment to compare with the person's ActiveCampaign action. */
  optOutChangedAt: Date | null;
  /**
   * The record changed after everything we know of it, at this moment (its LastModifiedDate): the stream may not
   * have delivered the change yet. Null when nothing is unexplained.
   */
  unseenChangeAt: Date | null;
}

const wholeSeconds = (date: Date) => Math.floor(date.getTime() / 1000);

/**
 * `historyAt`: when the org's field history (ContactHistory/LeadHistory, salesforce/opt-out-history.ts) says the
 * opt-out field took the value the record holds. That is Salesforce's own record of the change: it replaces the
 * bounds, and leaves nothing to wait for (a later LastModifiedDate is another field's change).
 */
export function optOutRecency(record: { optedOut: boolean; lastModified: Date }, known: KnownOptOut | undefined, historyAt: Date | null = null): OptOutRecency {
  // Tracking is checked before the history is used, and its newest row holds the value the record holds, so it is
  // the moment of the last change. What we hold may be only a bound from an earlier read: the history wins.
  if (historyAt !== null) return { optOutChangedAt: historyAt, unseenChangeAt: null };
  // Never seen on the stream (a record older than the install): LastModifiedDate over-estimates an opt-out's time,
  // so a doubtful subscribe loses; an opt-in's time is unknown, so an unsubscribe wins.
  if (known === undefined || known.changedAt === null) return { optOutChangedAt: record.optedOut ? record.lastModified : null, unseenChangeAt: null };
  const streamCaughtUp = Math.max(known.changedAt.getTime(), known.streamSeenAt?.getTime() ?? 0);
  const explainedByStream = wholeSeconds(record.lastModified) <= wholeSeconds(new Date(streamCaughtUp));
  const explainedByOwnWrite = known.writtenAt !== null && record.lastModified.getTime() <= known.writtenAt.getTime() + OWN_WRITE_SKEW_MS;
  const differs = known.optedOut !== record.optedOut;
  // Once the stream has delivered the record's changes up to its LastModifiedDate, waiting longer shows nothing new.
  const unseenChangeAt = explainedByStream || explainedByOwnWrite ? null : record.lastModified;
  if (!differs) return { optOutChangedAt: known.changedAt, unseenChangeAt };
  // The value changed and the stream has not told us when: after the last change we know, at LastModifiedDate at
  // the latest. An opt-out takes the latest bound (a doubtful subscribe loses), an opt-in the earliest (a doubtful
  // unsubscribe wins): either way the opt-out side of the doubt.
  const latest = record.lastModified.getTime() > known.changedAt.getTime() ? record.lastModified : known.changedAt;
  return { optOutChangedAt: record.optedOut ? latest : known.changedAt, unseenChangeAt };
}

/** Whether the pull path should still wait for the stream before deciding on this record. */
export function awaitingStream(unseenChangeAt: Date | null, now: Date): boolean {
  return unseenChangeAt !== null && now.getTime() - unseenChangeAt.getTime() < STREAM_CATCH_UP_MS;
}

/** The moment that stands for "unknown, and old": an opt-in with no known change time loses every comparison. */
export const UNKNOWN_AND_OLD = new Date(0);

/**
 * Dates a value that was read (a resync, a gap or reconcile re-read, a Flow action, a Platform Event that rang the
 * bell), not delivered as a change: a read says what a record holds, never when it changed. So an unchanged value
 * keeps the time of its real change, and a value that changed without the stream telling us takes the bound that
 * favours the opt-out: an opt-out the latest (LastModifiedDate: a doubtful subscribe loses), an opt-in the earliest
 * (the last change we know, or unknown-and-old: a doubtful unsubscribe wins). Stamping "now" on an unchanged
 * opt-in once made R3 refuse a real AC unsubscribe made a moment before the resync.
 *
 * `changed: false` means there is nothing new to record about the record's history.
 */
export function dateReadValue(read: { optedOut: boolean; lastModified: Date }, known: { optedOut: boolean | null; changedAt: Date | null } | undefined): { changedAt: Date | null; changed: boolean } {
  if (known !== undefined && known.optedOut === read.optedOut && known.changedAt !== null) return { changedAt: known.changedAt, changed: false };
  const knownAt = known?.changedAt ?? null;
  if (read.optedOut) return { changedAt: knownAt !== null && knownAt.getTime() > read.lastModified.getTime() ? knownAt : read.lastModified, changed: true };
  return { changedAt: knownAt, changed: true };
}
