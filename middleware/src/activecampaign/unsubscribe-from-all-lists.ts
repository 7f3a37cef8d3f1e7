// Rule R1 (DESIGN §1): an opt-out in Salesforce unsubscribes that email from EVERY AC list it is on.
// AC has no contact-level opt-out flag: subscription lives per list in contactList.status (research §3), so an
// opt-out is one POST /contactLists {status: 2} per list that isn't unsubscribed yet.
import type { ActiveCampaignClient } from './activecampaign-client';
import { contactListStatus } from './activecampaign-schemas';

export type UnsubscribeResult =
  | { kind: 'not-in-ac' }
  | {
      kind: 'unsubscribed';
      contactId: string;
      /** Lists this call moved to status 2, with the status they had: rule R2 re-subscribes only these. */
      changed: Array<{ listId: string; previousStatus: number }>;
      /** Lists already at status 2: nothing sent (rule R6, no write that changes nothing). */
      alreadyUnsubscribed: string[];
      /** Lists at status 3 (bounced): left alone, see shouldUnsubscribe. */
      leftBounced: string[];
      /** Active lists the person joined after the opt-out (newest wins): left alone. */
      joinedAfter: string[];
      /**
       * Every membership as AC holds it after this call: what was read, with the lists this call moved set to 2
       * (AC answered each POST, so that is AC's state, not a guess). The reverse path takes it as an observation.
       */
      membershipsAfter: Array<{ listId: string; status: number; sdate: string | null; udate: string | null }>;
      contactEmail: string;
      hardBounced: boolean;
    };

type Client = Pick<ActiveCampaignClient, 'findContactWithListsByEmail' | 'setListStatus'>;

/**
 * What a call had already changed when it failed part-way (e.g. the second list's POST met a 503): those lists are
 * unsubscribed in AC, and a retry sees them at 2 and skips them, so the caller must audit and remember them now.
 */
export interface UnsubscribeProgress {
  contactId: string | null;
  changed: Array<{ listId: string; previousStatus: number }>;
}

/**
 * Which memberships an opt-out must change.
 * - 1 (active): yes, the obvious case.
 * - 0 (unconfirmed, double opt-in pending): yes. Leaving it at 0 would let the person's later click on the
 *   confirmation link turn it into an active subscription after they opted out in Salesforce; 2 is the only
 *   status that stops mail on that list for good and makes the confirmation link a no-op for the opt-out.
 * - 2 (unsubscribed): no, already done (idempotent, no wasted call under the 5 requests/s budget).
 * - 3 (bounced): no. AC keeps bounces on the contact, not the list, and a bounced contact gets no mail anyway;
 *   overwriting 3 with 2 would erase the bounce that the reverse path reports as rule R4's "hard bounced" flag.
 * - unknown future values: yes (treat as "might send mail"): an opt-out errs on the side of not mailing.
 */
export function shouldUnsubscribe(status: number): boolean {
  return status !== contactListStatus.unsubscribed && status !== contactListStatus.bounced;
}

/**
 * Reads AC fresh (one GET with sideloaded lists) rather than trusting a stored snapshot: a stale snapshot could
 * skip a list the person joined since. Running it twice sends no POST the second time.
 */
export async function unsubscribeFromAllLists(client: Client, email: string, progress?: UnsubscribeProgress, optedOutAt?: Date): Promise<UnsubscribeResult> {
  const found = await client.findContactWithListsByEmail(email);
  if (found === null) return { kind: 'not-in-ac' };

  const changed: Array<{ listId: string; previousStatus: number }> = [];
  if (progress !== undefined) {
    progress.contactId = found.contact.id;
    progress.changed = changed;
  }
  const alreadyUnsubscribed: string[] = [];
  const leftBounced: string[] = [];
  const joinedAfter: string[] = [];
  for (const membership of found.lists) {
    if (membership.status === contactListStatus.active && joinedAfterOptOut(membership.sdate, optedOutAt)) {
      // The opt-out reached AC late (an outage, retries, a backlog) and the person subscribed to this list after it:
      // newest wins, as R5 decides for Salesforce. Found by the chaos run under load.
      joinedAfter.push(membership.listId);
    } else if (membership.status === contactListStatus.unsubscribed) {
      alreadyUnsubscribed.push(membership.listId);
    } else if (membership.status === contactListStatus.bounced) {
      leftBounced.push(membership.listId);
    } else if (shouldUnsubscribe(membership.status)) {
      // Sequential on purpose: the account allows 5 requests/s, so parallel POSTs would only queue in the
      // limiter, and a failure part-way leaves a clear state for the retry (which skips what is already 2).
      await client.setListStatus(found.contact.id, membership.listId, contactListStatus.unsubscribed);
      changed.push({
        listId: membership.listId,
        previousStatus: membership.status,
      });
    }
  }
  const moved = new Set(changed.map((c) => c.listId));
  return {
    kind: 'unsubscribed',
    contactId: found.contact.id,
    contactEmail: found.contact.email,
    hardBounced: found.contact.bouncedHard > 0,
    // A moved list's new udate is AC's to say; it stays unknown here rather than be stamped with our clock.
    membershipsAfter: found.lists.map((m) => (moved.has(m.listId) ? { listId: m.listId, status: contactListStatus.unsubscribed, sdate: m.sdate, udate: null } : { listId: m.listId, status: m.status, sdate: m.sdate, udate: m.udate })),
    changed,
    alreadyUnsubscribed,
    leftBounced,
    joinedAfter,
  };
}

/** AC stamps whole seconds: a subscribe in the opt-out's own second is not newer, and the opt-out wins. */
function joinedAfterOptOut(sdate: string | null, optedOutAt: Date | undefined): boolean {
  if (sdate === null || optedOutAt === undefined) return false;
  const joined = Date.parse(sdate);
  return Number.isFinite(joined) && Math.floor(joined / 1000) > Math.floor(optedOutAt.getTime() / 1000);
}
