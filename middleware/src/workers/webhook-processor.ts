// Turns stored webhook deliveries into observations: a delivery names one list's change, but R3 needs to know
// whether the contact is now off ALL its lists, so the processor reads the contact's full state from AC and feeds
// it to the same detector as the poller.
import type { Logger } from 'pino';
import type { Store } from '../store';
import type { ActiveCampaignClient } from '../activecampaign/activecampaign-client';
import { AcNotFoundError } from '../activecampaign/activecampaign-errors';
import { webhookPayloadSchema, type WebhookPayload } from '../activecampaign/webhook-payload';
import { toAcContactState } from './ac-contact-state';
import { detectAndQueue } from './ac-change-detector';
import type { AcContactState } from '../sync/ac-transitions';
import type { Clock } from '../store/clock';

export class WebhookProcessor {
  constructor(
    private readonly deps: {
      store: Store;
      ac: Pick<ActiveCampaignClient, 'getContactWithLists'>;
      clock: Clock;
      logger: Logger;
      isBaselineDone: () => Promise<boolean>;
      inScope?: (state: AcContactState) => boolean;
      onQueued?: () => void;
    },
  ) {}

  async runOnce(limit = 50): Promise<number> {
    const { store } = this.deps;
    const pending = await store.webhookInbox.pending(limit);
    if (pending.length === 0) return 0;
    const baseline = !(await this.deps.isBaselineDone());
    const byContact = new Map<string, { inboxIds: string[]; payloads: WebhookPayload[] }>();
    for (const item of pending) {
      const parsed = webhookPayloadSchema.safeParse(item.payload);
      if (!parsed.success) {
        await store.quarantine.put('webhook-inbox', 'stored delivery no longer parses', item.payload);
        await store.webhookInbox.markProcessed([item.id]);
        continue;
      }
      const entry = byContact.get(parsed.data.contact.id) ?? { inboxIds: [], payloads: [] };
      entry.inboxIds.push(item.id);
      entry.payloads.push(parsed.data);
      byContact.set(parsed.data.contact.id, entry);
    }
    let queued = 0;
    for (const [contactId, { inboxIds, payloads }] of byContact) {
      let state: AcContactState | null;
      try {
        state = toAcContactState(await this.deps.ac.getContactWithLists(contactId));
      } catch (error) {
        if (!(error instanceof AcNotFoundError)) {
          // AC unreachable or throttled: the deliveries stay pending and are tried again on the next round.
          this.deps.logger.warn({ contactId, err: error instanceof Error ? error.message : String(error) }, 'webhook contact read failed; will retry');
          continue;
        }
        state = null;
      }
      await store.db.transaction(async (tx) => {
        if (state !== null) {
          const snapshot = (await store.snapshots.getMany([contactId], tx)).get(contactId);
          const steps = replayDeliveries(snapshot === undefined ? null : { ...state, listStatuses: snapshot.listStatuses, hardBounced: snapshot.hardBounced }, payloads);
          // The fresh read may already show changes whose deliveries are still on their way; applied now, it would
          // hide the states in between. It counts only when it agrees with the replayed deliveries (or when there
          // is nothing to replay); otherwise the later deliveries, or the poller, bring the rest.
          const end = steps[steps.length - 1];
          const observations = end === undefined || sameLists(end.listStatuses, state.listStatuses) ? [...steps, state] : steps;
          const summary = await detectAndQueue(store, tx, observations, { observedAt: this.deps.clock(), via: 'webhook', baseline, inScope: this.deps.inScope });
          queued += summary.queued;
        } else {
          await store.audit.record([{ direction: 'ac_to_sf', email: null, acContactId: contactId, decision: 'skip', reason: 'webhook for a contact that no longer exists', result: 'nothing to do' }], tx);
        }
        await store.webhookInbox.markProcessed(inboxIds, tx);
      });
    }
    if (queued > 0) this.deps.onQueued?.();
    return pending.length;
  }
}

/**
 * The states a contact went through according to its deliveries, starting from the last snapshot. A delivery
 * names one list's change; the fresh read that follows them is the authority on the final state.
 */
export function replayDeliveries(start: AcContactState | null, payloads: WebhookPayload[]): AcContactState[] {
  if (start === null) return [];
  const steps: AcContactState[] = [];
  let current = start;
  for (const payload of payloads) {
    const listId = deliveredListId(payload.list);
    const at = new Date(payload.date_time);
    const when = Number.isNaN(at.getTime()) ? current.acUpdatedAt : at;
    const next: AcContactState = { ...current, listStatuses: { ...current.listStatuses }, subscribedAt: { ...current.subscribedAt }, acUpdatedAt: when };
    if (payload.type === 'unsubscribe' && listId !== null) next.listStatuses[listId] = 2;
    else if (payload.type === 'subscribe' && listId !== null) {
      next.listStatuses[listId] = 1;
      if (when !== null) next.subscribedAt[listId] = when;
    } else if (payload.type === 'bounce' && bounceType(payload) === 'hard') next.hardBounced = true;
    else continue;
    steps.push(next);
    current = next;
  }
  return steps;
}

/** AC sends `list` and `list[][id]`; a qs parser merges them into ["1", {id: "1"}]. */
function deliveredListId(list: unknown): string | null {
  if (typeof list === 'string' && /^\d+$/.test(list) && list !== '0') return list;
  if (Array.isArray(list)) for (const item of list) {
    const id = deliveredListId(item);
    if (id !== null) return id;
  }
  if (typeof list === 'object' && list !== null && 'id' in list) return deliveredListId((list as { id: unknown }).id);
  return null;
}

function bounceType(payload: WebhookPayload): string | null {
  const bounce = (payload as Record<string, unknown>).bounce;
  if (typeof bounce === 'object' && bounce !== null && 'type' in bounce && typeof bounce.type === 'string') return bounce.type.toLowerCase();
  return null;
}

function sameLists(a: Record<string, number>, b: Record<string, number>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) if (a[key] !== b[key]) return false;
  return true;
}
