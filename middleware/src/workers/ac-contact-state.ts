// Maps what the ActiveCampaign client read (or what our own writes left) into the detector's plain state.
import type { ContactWithLists } from '../activecampaign/activecampaign-client';
import type { AcContactState } from '../sync/ac-transitions';

type Membership = { listId: string; status: number; sdate: string | null; udate: string | null };

/** List statuses with AC's own subscribe (sdate) and unsubscribe (udate) dates, where AC gave them. */
function membershipState(memberships: readonly Membership[]): Pick<AcContactState, 'listStatuses' | 'subscribedAt' | 'unsubscribedAt'> {
  const listStatuses: Record<string, number> = {};
  const subscribedAt: Record<string, Date> = {};
  const unsubscribedAt: Record<string, Date> = {};
  for (const membership of memberships) {
    listStatuses[membership.listId] = membership.status;
    if (membership.sdate !== null) subscribedAt[membership.listId] = new Date(membership.sdate);
    if (membership.udate !== null) unsubscribedAt[membership.listId] = new Date(membership.udate);
  }
  return { listStatuses, subscribedAt, unsubscribedAt };
}

export function toAcContactState(read: ContactWithLists): AcContactState {
  return {
    acContactId: read.contact.id,
    email: read.contact.email,
    ...membershipState(read.lists),
    // AC marks a contact bounced after one hard bounce (DESIGN §5); the counter is the documented signal.
    hardBounced: read.contact.bouncedHard > 0,
    acUpdatedAt: read.contact.updatedAt === null ? null : new Date(read.contact.updatedAt),
  };
}

/**
 * The contact as AC holds it after our R1: its memberships with the lists we moved at 2. Their new udate is AC's to
 * give (the next read brings it); acUpdatedAt is left unknown so the R3 this causes is dated by the opt-out.
 */
export function stateAfterOwnUnsubscribe(acContactId: string, email: string, hardBounced: boolean, memberships: readonly Membership[]): AcContactState {
  return { acContactId, email, ...membershipState(memberships), hardBounced, acUpdatedAt: null };
}
