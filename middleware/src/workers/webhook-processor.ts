// Turns stored webhook deliveries into reads: a delivery rings the bell for one contact, the processor reads that
// contact's full state from AC (100 per call) and feeds the read to the same detector as the poller. What the
// delivery says is only compared with the read for the audit ("unconfirmed"), never acted on.
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Store } from '../store';
import type { ActiveCampaignClient } from '../activecampaign/activecampaign-client';
import { webhookPayloadSchema, type WebhookPayload } from '../activecampaign/webhook-payload';
import { AcRateLimitedError } from '../activecampaign/activecampaign-errors';
import { toAcContactState } from './ac-contact-state';
import { detectAndQueue } from './ac-change-detector';
import type { AcContactState } from '../sync/ac-transitions';
import type { Clock } from '../store/clock';
import type { AuditEntry } from '../store/audit-log';
import { normaliseEmail } from '../sync/opt-out-change';
import type { Metrics } from '../observability/metrics';
import { pullJobKind } from '../sync/pull-job';
import { subscribeSourceOf, type SubscribeSource } from '../sync/subscribe-source';

/** Contacts per GET /contacts?ids[]= read (AC's page size). */
const CONTACTS_PER_READ = 100;

/** The contact a stored delivery is about, for counting only (the full parse happens below). */
function contactIdOf(payload: unknown): string {
  const parsed = z.object({ contact: z.object({ id: z.unknown() }) }).safeParse(payload);
  return parsed.success ? String(parsed.data.contact.id) : '';
}

/** Back-off of the confirming read after AC failed it: doubles from 1 s up to 2 minutes, like the job queue's. */
const READ_BACKOFF_BASE_MS = 1_000;
const READ_BACKOFF_CAP_MS = 120_000;

export class WebhookProcessor {
  /** Consecutive failed confirming reads, and when the next may be tried (deliveries stay pending meanwhile). */
  private failedReads = 0;
  private nextReadAt = 0;

  constructor(
    private readonly deps: {
      store: Store;
      ac: Pick<ActiveCampaignClient, 'getContactsWithLists'>;
      clock: Clock;
      logger: Logger;
      metrics?: Pick<Metrics, 'jobsQueued'>;
      isBaselineDone: () => Promise<boolean>;
      inScope?: (state: AcContactState) => boolean;
      onQueued?: () => void;
      /**
       * While fewer than one read's worth of contacts (100) have deliveries waiting and the oldest has waited less
       * than this, wait for more: deliveries trickle in one per list changed, and confirming them one contact per
       * read would spend the account's 5 requests/s on what one read of 100 does.
       */
      lingerMs?: number;
      random?: () => number;
      /** R5_Subscribe_Sources__c: whose re-subscribes count (subscribe-source.ts). */
      countedSubscribeSources?: () => readonly SubscribeSource[];
    },
  ) {}

  async runOnce(limit = 1000): Promise<number> {
    const { store } = this.deps;
    // After AC failed a read, wait out the back-off: the deliveries are stored, and asking again every round
    // during an outage spent the account's budget (one pending delivery made 58 calls in a 15 s outage).
    if (this.deps.clock().getTime() < this.nextReadAt) return 0;
    const pending = await store.webhookInbox.pending(limit);
    if (pending.length === 0) return 0;
    const lingerMs = this.deps.lingerMs ?? 0;
    if (lingerMs > 0) {
      const oldest = Math.min(...pending.map((p) => p.receivedAt.getTime()));
      const contacts = new Set(pending.map((p) => contactIdOf(p.payload)));
      if (contacts.size < CONTACTS_PER_READ && this.deps.clock().getTime() - oldest < lingerMs) return 0;
    }
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
    const contactIds = [...byContact.keys()];
    // One read per 100 contacts (GET /contacts?ids[]=...): a burst of deliveries costs 1% of the calls one GET per
    // contact would, which matters under AC's 5 requests/s.
    for (let i = 0; i < contactIds.length; i += CONTACTS_PER_READ) {
      const chunk = contactIds.slice(i, i + CONTACTS_PER_READ);
      let found: Map<string, AcContactState>;
      try {
        found = new Map((await this.deps.ac.getContactsWithLists(chunk)).map((read) => [read.contact.id, toAcContactState(read)]));
      } catch (error) {
        // AC unreachable or throttled: the deliveries stay pending and are tried again after a back-off.
        this.failedReads++;
        const ceiling = Math.min(READ_BACKOFF_CAP_MS, READ_BACKOFF_BASE_MS * 2 ** (this.failedReads - 1));
        const retryAfterMs = error instanceof AcRateLimitedError ? error.retryAfterMs : 0;
        this.nextReadAt = this.deps.clock().getTime() + Math.max(retryAfterMs, Math.round(ceiling / 2 + (this.deps.random ?? Math.random)() * (ceiling / 2)));
        this.deps.logger.warn({ contacts: chunk.length, failedReads: this.failedReads, err: error instanceof Error ? error.message : String(error) }, 'webhook contact read failed; will retry after a back-off');
        break;
      }
      this.failedReads = 0;
      this.nextReadAt = 0;
      await store.db.transaction(async (tx) => {
        const observations: AcContactState[] = [];
        const deliveredSubscribes = new Map<string, Map<string, Set<SubscribeSource>>>();
        const gone: string[] = [];
        const unconfirmed: AuditEntry[] = [];
        for (const contactId of chunk) {
          const state = found.get(contactId);
          if (state === undefined) {
            gone.push(contactId);
            continue;
          }
          // A delivery is a doorbell: it says "look at this contact", and the read decides. Its list, type and
          // date_time are never taken for facts (anyone who can list the account's webhooks knows the URL's secret,
          // and AC never resends a lost delivery, so a stale one may arrive alone). The read, compared with the
          // snapshot, is the settled state the rules are about; times come from AC's own records (sdate, udate).
          observations.push(state);
          for (const payload of byContact.get(contactId)?.payloads ?? []) {
            if (confirmedByRead(payload, state)) {
              // Who made a subscribe is said only here (initiated_from); it matters only for a list the read shows
              // active, and it only labels a subscribe AC really holds (R5: subscribe-source.ts).
              const listId = deliveredListId(payload.list);
              if (payload.type === 'subscribe' && listId !== null && state.listStatuses[listId] === 1) {
                const lists = deliveredSubscribes.get(contactId) ?? new Map<string, Set<SubscribeSource>>();
                lists.set(listId, (lists.get(listId) ?? new Set()).add(subscribeSourceOf(payload.initiated_from)));
                deliveredSubscribes.set(contactId, lists);
              }
              continue;
            }
            unconfirmed.push({
              direction: 'ac_to_sf',
              email: normaliseEmail(state.email),
              acContactId: contactId,
              decision: 'skip',
              reason: `webhook ${describeDelivery(payload)} not confirmed by ActiveCampaign's records (a doorbell, not a fact)`,
              result: 'unconfirmed',
            });
          }
        }
        const summary = await detectAndQueue(store, tx, observations, { observedAt: this.deps.clock(), via: 'webhook', baseline, inScope: this.deps.inScope, deliveredSubscribes, countedSubscribeSources: this.deps.countedSubscribeSources?.() });
        queued += summary.queued;
        await store.audit.record(unconfirmed, tx);
        await store.audit.record(gone.map((contactId) => ({ direction: 'ac_to_sf' as const, email: null, acContactId: contactId, decision: 'skip', reason: 'webhook for a contact that no longer exists', result: 'nothing to do' })), tx);
        await store.webhookInbox.markProcessed(chunk.flatMap((id) => byContact.get(id)?.inboxIds ?? []), tx);
      });
    }
    if (queued > 0) {
      this.deps.metrics?.jobsQueued.inc({ kind: pullJobKind.name }, queued);
      this.deps.onQueued?.();
    }
    return pending.length;
  }
}

/**
 * Whether AC's current records show what a delivery claims: the list in the claimed status (a subscribe: active or
 * awaiting confirmation; an unsubscribe: unsubscribed), a hard bounce on the bounce counter. Other kinds of delivery
 * claim nothing the rules use. Only the audit asks: the read decides either way.
 */
export function confirmedByRead(payload: WebhookPayload, read: AcContactState): boolean {
  const listId = deliveredListId(payload.list);
  if (payload.type === 'unsubscribe') return listId !== null && read.listStatuses[listId] === 2;
  if (payload.type === 'subscribe') return listId !== null && (read.listStatuses[listId] === 1 || read.listStatuses[listId] === 0);
  if (payload.type === 'bounce') return bounceType(payload) !== 'hard' || read.hardBounced;
  return true;
}

function describeDelivery(payload: WebhookPayload): string {
  const listId = deliveredListId(payload.list);
  return `${payload.type}${listId === null ? '' : ` (list ${listId})`}`;
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
