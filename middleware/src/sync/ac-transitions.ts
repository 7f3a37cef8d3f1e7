// The reverse path's change detector: compares what ActiveCampaign holds now with the last snapshot and names the
// rule that applies (R3 unsubscribed from all lists, R4 hard bounce, R5 zero -> one or more active lists).
// AC has no contact-level opt-out: subscription is per list (status 0 unconfirmed, 1 active, 2 unsubscribed,
// 3 bounced), bounces are counters on the contact (DESIGN §5).

export interface AcContactState {
  acContactId: string;
  email: string;
  listStatuses: Record<string, number>;
  /** Subscribe date (sdate) per list, when AC gave it. */
  subscribedAt: Record<string, Date>;
  /** Unsubscribe date (udate) per list, when AC gave it: AC's own record of when the person left a list. */
  unsubscribedAt?: Record<string, Date>;
  hardBounced: boolean;
  acUpdatedAt: Date | null;
}

export interface PreviousAcState {
  listStatuses: Record<string, number>;
  hardBounced: boolean;
  /**
   * The newest unsubscribe date (udate) among the lists the contact had left when the snapshot was taken; null when
   * unknown (a snapshot older than this field). Lets a new unsubscribe be seen even when the state before and after
   * both read "unsubscribed from all" (a resubscribe and a new unsubscribe between two reads).
   */
  lastUnsubscribedAt?: Date | null;
}

export type AcTransition =
  | { rule: 'R3'; kind: 'unsubscribed-from-all'; at: Date }
  | { rule: 'R4'; kind: 'hard-bounced'; at: Date }
  | { rule: 'R5'; kind: 'resubscribed'; at: Date; lists: string[] };

const ACTIVE = 1;
const UNSUBSCRIBED = 2;
const BOUNCED = 3;

export function activeLists(statuses: Record<string, number>): string[] {
  return Object.entries(statuses)
    .filter(([, status]) => status === ACTIVE)
    .map(([listId]) => listId)
    .sort();
}

/** On at least one list, on none actively or pending confirmation, and unsubscribed from at least one. */
export function isUnsubscribedFromAll(statuses: Record<string, number>): boolean {
  const values = Object.values(statuses);
  return values.some((s) => s === UNSUBSCRIBED) && values.every((s) => s === UNSUBSCRIBED || s === 3);
}

/** The newest udate among the lists the contact has left (status 2), or null when AC gave none. */
export function lastUnsubscribedAt(state: Pick<AcContactState, 'listStatuses' | 'unsubscribedAt'>): Date | null {
  let latest: number | null = null;
  for (const [listId, status] of Object.entries(state.listStatuses)) {
    const udate = state.unsubscribedAt?.[listId];
    if (status === UNSUBSCRIBED && udate !== undefined && !Number.isNaN(udate.getTime())) latest = Math.max(latest ?? udate.getTime(), udate.getTime());
  }
  return latest === null ? null : new Date(latest);
}

/**
 * The newest subscribe date (sdate) among the lists the contact is on (active or unconfirmed), by AC's own records:
 * a bulk import cannot keep a list joined after the opt-out, so such a contact takes the single path. Null when no
 * active list is dated (a join without a date is caught by the snapshot's joined_seen_at instead: hasUndatedActiveList).
 */
export function newestActiveSubscribe(state: Pick<AcContactState, 'listStatuses' | 'subscribedAt'>): Date | null {
  let newest: Date | null = null;
  for (const [listId, status] of Object.entries(state.listStatuses)) {
    const sdate = state.subscribedAt[listId];
    if ((status === 0 || status === 1) && sdate !== undefined && !Number.isNaN(sdate.getTime()) && (newest === null || sdate > newest)) newest = sdate;
  }
  return newest;
}

/**
 * Whether what the middleware last read of a contact leaves room for a list joined after an opt-out made at
 * `optedOutAt`: AC dates one of its active lists later, a read saw it join a list (of unknown date) later, or AC
 * re-dated the contact later. The bulk import cannot keep such a list, so such a contact takes the single path.
 * Judged to the second, as the single path judges a subscribe date (AC stamps whole seconds; Salesforce's commit
 * time has milliseconds): a mark in the opt-out's own second is not later, one in any later second is.
 */
export function mayHaveJoinedSince(marks: { lastSubscribedAt?: Date | null; joinedSeenAt?: Date | null; acUpdatedAt?: Date | null }, optedOutAt: Date): boolean {
  const second = Math.floor(optedOutAt.getTime() / 1000);
  return [marks.lastSubscribedAt, marks.joinedSeenAt, marks.acUpdatedAt].some((at) => at !== undefined && at !== null && Math.floor(at.getTime() / 1000) > second);
}

/** Whether a list the contact is on (active or unconfirmed) has no subscribe date from AC: a join of unknown date. */
export function hasUndatedActiveList(state: Pick<AcContactState, 'listStatuses' | 'subscribedAt'>): boolean {
  return Object.entries(state.listStatuses).some(([listId, status]) => {
    const sdate = state.subscribedAt[listId];
    return (status === 0 || status === 1) && (sdate === undefined || Number.isNaN(sdate.getTime()));
  });
}

/**
 * What a snapshot keeps to see a later unsubscribe (PreviousAcState.lastUnsubscribedAt): the newest udate of the lists
 * left, or null when any list left has no date (a state we wrote ourselves before AC dated it). An unknown mark
 * makes no later read look like a new unsubscribe; a mark from partial dates would make our own write look like one.
 */
export function unsubscribeMark(state: Pick<AcContactState, 'listStatuses' | 'unsubscribedAt'>): Date | null {
  for (const [listId, status] of Object.entries(state.listStatuses)) {
    const udate = state.unsubscribedAt?.[listId];
    if (status === UNSUBSCRIBED && (udate === undefined || Number.isNaN(udate.getTime()))) return null;
  }
  return lastUnsubscribedAt(state);
}

/**
 * When the person came to be on no list, by AC's own records, never by a delivery's word: the newest unsubscribe
 * date among the lists left. A list that went to 3 (bounced) carries no such date; the bounce is then the last step
 * and the contact's own udate dates it (dating that R3 by an old unsubscribe would make it lose to an opt-in made
 * in between; found by the system model, a second hard bounce after an admin's opt-in).
 */
function unsubscribedFromAllAt(current: AcContactState, observedAt: Date): Date {
  // A list left without a date (our own R1, whose udate AC has not given us yet) may be the last one left: the
  // moment is unknown, and the latest bound wins (in doubt, the opt-out); an R3 our R1 caused is then dated by the
  // Salesforce opt-out (opt-out-causes.ts). Found by the system model: the known, older udate of another list made
  // that R3 lose to the opt-in it followed.
  if (unsubscribeMark(current) === null) return current.acUpdatedAt ?? observedAt;
  const left = lastUnsubscribedAt(current);
  const bounced = Object.values(current.listStatuses).some((s) => s === BOUNCED);
  if (left === null) return current.acUpdatedAt ?? observedAt;
  if (bounced && current.acUpdatedAt !== null && current.acUpdatedAt.getTime() > left.getTime()) return current.acUpdatedAt;
  return left;
}

/**
 * previous === null means the contact is new to us. A new contact that is already unsubscribed everywhere or
 * bounced still counts (the person did it); a new contact with active lists is NOT an R5 subscribe, because
 * contacts appear in AC through imports and integrations that are not the person's choice, and R2 promises that
 * only the person's own action re-subscribes.
 */
export function detectTransitions(previous: PreviousAcState | null, current: AcContactState, observedAt: Date): AcTransition[] {
  const transitions: AcTransition[] = [];
  if (current.hardBounced && previous?.hardBounced !== true) {
    transitions.push({ rule: 'R4', kind: 'hard-bounced', at: current.acUpdatedAt ?? observedAt });
  }
  if (isUnsubscribedFromAll(current.listStatuses) && (previous === null || !isUnsubscribedFromAll(previous.listStatuses) || leftAgainSince(previous, current))) {
    transitions.push({ rule: 'R3', kind: 'unsubscribed-from-all', at: unsubscribedFromAllAt(current, observedAt) });
  }
  if (previous !== null && activeLists(previous.listStatuses).length === 0) {
    const nowActive = activeLists(current.listStatuses);
    if (nowActive.length > 0 && !current.hardBounced) {
      const dates = nowActive.map((l) => current.subscribedAt[l]).filter((d): d is Date => d !== undefined);
      const at = dates.length > 0 ? new Date(Math.max(...dates.map((d) => d.getTime()))) : (current.acUpdatedAt ?? observedAt);
      transitions.push({ rule: 'R5', kind: 'resubscribed', at, lists: nowActive });
    }
  }
  return transitions;
}

/**
 * Unsubscribed from all before and now, yet AC records an unsubscribe newer than any the snapshot knew: the person
 * joined a list and left again between two reads. The state in between is not an event, but the settled state is
 * a fresh opt-out that may postdate an opt-in made in Salesforce meanwhile.
 */
function leftAgainSince(previous: PreviousAcState, current: AcContactState): boolean {
  if (previous.lastUnsubscribedAt === undefined || previous.lastUnsubscribedAt === null) return false;
  // A list that was bounced (3) and now reads unsubscribed (2) is no new choice: a bounced list gets no mail, and
  // the bounce already opted the person out (found by the system model: it undid an admin's later opt-in).
  const left = lastUnsubscribedAt({ listStatuses: Object.fromEntries(Object.entries(current.listStatuses).filter(([listId]) => previous.listStatuses[listId] !== BOUNCED)), unsubscribedAt: current.unsubscribedAt });
  return left !== null && left.getTime() > previous.lastUnsubscribedAt.getTime();
}
