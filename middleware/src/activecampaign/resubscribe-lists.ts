// Rule R2's opt-in option (DESIGN §1, off by default): when Salesforce's opt-out turns false and
// resubscribeOnOptIn is on, re-subscribe ONLY the lists this product unsubscribed (the caller passes them, from
// the audit/snapshot of unsubscribeFromAllLists' `changed`), and never after a bounce. POST /contactLists with
// status 1 re-subscribes even someone who unsubscribed by hand (AC's warning, research §3), hence the guards.
import type { ActiveCampaignClient } from './activecampaign-client';
import { contactListStatus } from './activecampaign-schemas';

export type ResubscribeResult =
  | { kind: 'not-in-ac' }
  | { kind: 'refused-bounced'; contactId: string; bouncedHard: number }
  | {
      kind: 'resubscribed';
      contactId: string;
      changed: Array<{ listId: string; previousStatus: number | null }>;
      alreadyActive: string[];
    };

type Client = Pick<ActiveCampaignClient, 'findContactWithListsByEmail' | 'setListStatus'>;

/** AC's docs: "Set [sourceid] to 4 when re-subscribing a contact to a list." */
const resubscribeSourceId = 4;

export async function resubscribeLists(
  client: Client,
  { email, listIds }: { email: string; listIds: readonly string[] },
): Promise<ResubscribeResult> {
  const found = await client.findContactWithListsByEmail(email);
  if (found === null) return { kind: 'not-in-ac' };
  const { contact, lists } = found;

  // A hard bounce marks the contact bounced at once (research §5); list status 3 is the same fact seen per
  // list. Either way the address is dead or refused mail: re-subscribing it would only hurt deliverability.
  const bouncedOnAList = lists.some((m) => m.status === contactListStatus.bounced);
  if (contact.bouncedHard > 0 || bouncedOnAList) {
    return {
      kind: 'refused-bounced',
      contactId: contact.id,
      bouncedHard: contact.bouncedHard,
    };
  }

  const statusByList = new Map(lists.map((m) => [m.listId, m.status]));
  const changed: Array<{ listId: string; previousStatus: number | null }> = [];
  const alreadyActive: string[] = [];
  for (const listId of new Set(listIds)) {
    const previous = statusByList.get(listId);
    if (previous === contactListStatus.active) {
      alreadyActive.push(listId);
      continue;
    }
    await client.setListStatus(contact.id, listId, contactListStatus.active, {
      sourceId: resubscribeSourceId,
    });
    changed.push({ listId, previousStatus: previous ?? null });
  }
  return {
    kind: 'resubscribed',
    contactId: contact.id,
    changed,
    alreadyActive,
  };
}
