// Turns stored webhook deliveries into observations: a delivery names one list's change, but R3 needs to know
// whether the contact is now off ALL its lists, so the processor replays the deliveries over the last snapshot and
// checks them against the contact's full state read from AC, then feeds both to the same detector as the poller.
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Store } from '../store';
import type { ActiveCampaignClient } from '../activecampaign/activecampaign-client';
import { webhookPayloadSchema, type WebhookPayload } from '../activecampaign/webhook-payload';
import { AcRateLimitedError } from '../activecampaign/activecampaign-errors';
import { toAcContactState } from './ac-contact-state';
import { detectAndQueue } from './ac-change-detector';
import type { AcContactState } from '../sync/ac-transitions';
import type { AuditEntry } from '../store/audit-log';
import type { Clock } from '../store/clock';
import type { Metrics } from '../observability/metrics';
import { pullJobKind } from '../sync/pull-job';

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
        const snapshots = await store.snapshots.getMany(chunk, tx);
        const observations: AcContactState[] = [];
        const gone: string[] = [];
        const unconfirmed: AuditEntry[] = [];
        for (const contactId of chunk) {
          const state = found.get(contactId);
          if (state === undefined) {
            gone.push(contactId);
            continue;
          }
          const snapshot = snapshots.get(contactId);
          // A delivery is a doorbell: only what AC's records confirm (list statuses with their sdate/udate, the bounce
          // counter) counts, dated by those records, never by the delivery's date_time. Anyone who can list the
          // account's webhooks knows the URL's secret; a forged or stale delivery must change nothing.
          const start = snapshot === undefined ? null : { ...state, listStatuses: snapshot.listStatuses, hardBounced: snapshot.hardBounced, acUpdatedAt: snapshot.acUpdatedAt };
          const steps = statesSinceSnapshot(start, state, byContact.get(contactId)?.payloads ?? []);
          const rejected = unconfirmedDeliveries(start, byContact.get(contactId)?.payloads ?? [], state);
          for (const payload of rejected) {
            unconfirmed.push({ direction: 'ac_to_sf', email: state.email.toLowerCase(), acContactId: contactId, decision: 'skip', reason: `webhook ${payload.type} not confirmed by ActiveCampaign's records (a doorbell, not a fact)`, result: 'unconfirmed', newValue: describeDelivery(payload) });
          }
          // AC's current records are the last word on where the contact stands.
          observations.push(...steps, state);
        }
        const summary = await detectAndQueue(store, tx, observations, { observedAt: this.deps.clock(), via: 'webhook', baseline, inScope: this.deps.inScope });
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
 * The states a contact went through since the last snapshot, by AC's own records: every list whose unsubscribe
 * date (udate) or subscribe date (sdate) is later than the snapshot's time is a change at that moment, applied to
 * the snapshot in time order. Deliveries play no part in it (they only ring the bell): a forged or stale one
 * changes nothing, and deliveries that arrive over several rounds cannot hide a state the records show (left every
 * list, then joined one again). AC stamps whole seconds: within one second a list's own two changes keep the order
 * its current status implies, and across lists the earlier of each list's changes comes first, unsubscribes before
 * subscribes (in doubt, the opt-out is seen). A change in the snapshot's own second counts when a delivery rang for
 * it (a delivery may say "look here", never what happened).
 */
export function statesSinceSnapshot(start: AcContactState | null, read: AcContactState, rung: WebhookPayload[] = []): AcContactState[] {
  if (start === null) return [];
  const since = start.acUpdatedAt?.getTime() ?? Number.NEGATIVE_INFINITY;
  // A change in the snapshot's own second counts only when a delivery rang for it: the records alone cannot tell
  // whether the snapshot already saw it, and taking it twice would replay a transition.
  const rangFor = new Set(rung.map((p) => deliveredListId(p.list)).filter((id): id is string => id !== null));
  const inWindow = (at: number | undefined, listId: string) => at !== undefined && (at > since || (at === since && rangFor.has(listId)));
  const events: { at: number; phase: number; listId: string; status: 1 | 2 }[] = [];
  for (const [listId, status] of Object.entries(read.listStatuses)) {
    const udate = read.unsubscribedAt?.[listId]?.getTime();
    const sdate = read.subscribedAt[listId]?.getTime();
    const left = inWindow(udate, listId);
    const joined = inWindow(sdate, listId);
    if (left && joined && udate !== undefined && sdate !== undefined) {
      // Both in the window: the current status says which came last.
      const unsubscribedLast = status === 2;
      events.push({ at: udate, phase: unsubscribedLast ? 1 : 0, listId, status: 2 }, { at: sdate, phase: unsubscribedLast ? 0 : 1, listId, status: 1 });
    } else if (left && udate !== undefined && status === 2) events.push({ at: udate, phase: 0, listId, status: 2 });
    else if (joined && sdate !== undefined && (status === 1 || status === 0)) events.push({ at: sdate, phase: 0, listId, status: 1 });
  }
  events.sort((a, b) => a.at - b.at || a.phase - b.phase || b.status - a.status);
  const steps: AcContactState[] = [];
  let current: AcContactState = { ...read, listStatuses: { ...start.listStatuses }, hardBounced: start.hardBounced };
  for (const event of events) {
    if (current.listStatuses[event.listId] === event.status) continue;
    current = { ...current, listStatuses: { ...current.listStatuses, [event.listId]: event.status }, acUpdatedAt: new Date(event.at) };
    steps.push(current);
  }
  return steps;
}

/**
 * The deliveries AC's records do not confirm: an unsubscribe from a list that is neither unsubscribed now nor shows
 * an unsubscribe since the snapshot, a subscribe to a list that is not on it now nor shows a subscribe since the
 * snapshot, a hard bounce the counter does not show. They are audited as unconfirmed and weigh on nothing.
 */
export function unconfirmedDeliveries(start: AcContactState | null, payloads: WebhookPayload[], read: AcContactState): WebhookPayload[] {
  const since = start?.acUpdatedAt?.getTime() ?? Number.NEGATIVE_INFINITY;
  return payloads.filter((payload) => {
    const listId = deliveredListId(payload.list);
    if (payload.type === 'unsubscribe' && listId !== null) {
      const udate = read.unsubscribedAt?.[listId];
      return !(read.listStatuses[listId] === 2 || (udate !== undefined && udate.getTime() >= since));
    }
    if (payload.type === 'subscribe' && listId !== null) {
      const status = read.listStatuses[listId];
      const sdate = read.subscribedAt[listId];
      return !(status === 0 || status === 1 || (sdate !== undefined && sdate.getTime() > since));
    }
    if (payload.type === 'bounce' && bounceType(payload) === 'hard') return !read.hardBounced;
    return false;
  });
}

function describeDelivery(payload: WebhookPayload): string {
  const listId = deliveredListId(payload.list);
  return `${payload.type}${listId === null ? '' : ` list ${listId}`}`;
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

