// Maps what the ActiveCampaign client read into the detector's plain state.
import type { ContactWithLists } from '../activecampaign/activecampaign-client';
import type { AcContactState } from '../sync/ac-transitions';

export function toAcContactState(read: ContactWithLists): AcContactState {
  const listStatuses: Record<string, number> = {};
  const subscribedAt: Record<string, Date> = {};
  const unsubscribedAt: Record<string, Date> = {};
  for (const membership of read.lists) {
    listStatuses[membership.listId] = membership.status;
    if (membership.sdate !== null) subscribedAt[membership.listId] = new Date(membership.sdate);
    if (membership.udate !== null) unsubscribedAt[membership.listId] = new Date(membership.udate);
  }
  return {
    acContactId: read.contact.id,
    email: read.contact.email,
    listStatuses,
    subscribedAt,
    unsubscribedAt,
    // AC marks a contact bounced after one hard bounce (DESIGN §5); the counter is the documented signal.
    hardBounced: read.contact.bouncedHard > 0,
    acUpdatedAt: read.contact.updatedAt === null ? null : new Date(read.contact.updatedAt),
  };
}
