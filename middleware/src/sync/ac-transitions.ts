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
  hardBounced: boolean;
  acUpdatedAt: Date | null;
}

export interface PreviousAcState {
  listStatuses: Record<string, number>;
  hardBounced: boolean;
}

export type AcTransition =
  | { rule: 'R3'; kind: 'unsubscribed-from-all'; at: Date }
  | { rule: 'R4'; kind: 'hard-bounced'; at: Date }
  | { rule: 'R5'; kind: 'resubscribed'; at: Date; lists: string[] };

const ACTIVE = 1;
const UNSUBSCRIBED = 2;

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
  if (isUnsubscribedFromAll(current.listStatuses) && (previous === null || !isUnsubscribedFromAll(previous.listStatuses))) {
    transitions.push({ rule: 'R3', kind: 'unsubscribed-from-all', at: current.acUpdatedAt ?? observedAt });
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
