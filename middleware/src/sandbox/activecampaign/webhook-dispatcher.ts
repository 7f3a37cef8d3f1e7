// Outbound webhooks as AC documents them (research §6, fixtures activecampaign-webhooks.asyncapi.yml):
// - one form-encoded POST per event, PHP-style bracket keys (contact[email], list[][id], bounce[type]);
// - filtered by the hook's `events`, `sources` (public/admin/api/system) and optional `listid`;
// - "Webhooks are never retried": each change is delivered at most once here, whatever the answer;
// - an HTTP 410 answer sets the hook inactive (re-activation needs delete + re-create);
// - no order is promised: each delivery is an independent POST (the docs give no sequence number or ordering
//   guarantee), so `reorderWindowMs` can hold each one a while and let a later change arrive first;
// - no signature header (AC publishes none).
import type { AccountClock } from './account-clock';
import type { AccountState, ChangeEvent, ChangeSource } from './account-state';

export const WEBHOOK_EVENTS = [
  'bounce',
  'click',
  'contact_tag_added',
  'contact_tag_removed',
  'deal_add',
  'deal_note_add',
  'deal_pipeline_add',
  'deal_stage_add',
  'deal_task_add',
  'deal_task_complete',
  'deal_tasktype_add',
  'deal_update',
  'forward',
  'list_add',
  'open',
  'reply',
  'sent',
  'share',
  'sms_reply',
  'sms_sent',
  'sms_unsub',
  'subscribe',
  'subscriber_note',
  'unsubscribe',
  'update',
] as const;
export const WEBHOOK_SOURCES = ['public', 'admin', 'api', 'system'] as const;

export interface WebhookRecord {
  id: string;
  name: string;
  url: string;
  events: string[];
  sources: string[];
  /** "0" when the hook is not list-scoped, as AC answers */
  listid: string;
  cdate: Date;
  active: boolean;
}

export interface WebhookDelivery {
  webhookId: string;
  url: string;
  type: ChangeEvent['type'];
  source: ChangeSource;
  contactId: string;
  list: string;
  /** the decoded form fields as sent */
  fields: Record<string, string>;
  sentAt: Date;
  /** HTTP status of the receiver, or undefined when the request failed */
  status?: number;
  error?: string;
  deactivatedHook: boolean;
}

/** One change and what became of its deliveries, decided when it is queued: how many hooks it went to, how many of
 *  those were lost on the way. Lets an observer tell at once whether a change can ever reach the receiver. */
export interface WebhookDispatch {
  type: ChangeEvent['type'];
  email: string;
  list: string;
  at: Date;
  hooks: number;
  lost: number;
}

export class WebhookDispatcher {
  readonly hooks = new Map<string, WebhookRecord>();
  readonly deliveries: WebhookDelivery[] = [];
  readonly dispatches: WebhookDispatch[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private chain: Promise<void> = Promise.resolve();
  /** Share of deliveries lost on the way (0..1). Deterministic: every 1/share-th delivery is lost, so a run replays. */
  dropShare = 0;
  private dropCredit = 0;
  /** Holds each delivery up to this long (deterministic per delivery) and sends it on its own, out of change order. */
  reorderWindowMs = 0;
  private reorderSeed = 1;

  constructor(
    private readonly state: AccountState,
    private readonly clock: AccountClock,
    private readonly timeoutMs: number,
  ) {}

  /** Queues deliveries for one change; they are sent in change order, after the triggering request answered. */
  dispatch(event: ChangeEvent): void {
    const targets = [...this.hooks.values()].filter((hook) => this.matches(hook, event));
    const dispatched: WebhookDispatch = { type: event.type, email: this.state.contacts.get(event.contactId)?.email ?? '', list: 'listId' in event ? event.listId : '0', at: new Date(), hooks: targets.length, lost: 0 };
    this.dispatches.push(dispatched);
    for (const hook of targets) {
      const fields = this.payload(event);
      // Lost or not is decided now, in change order, so that a run replays whatever the holds below do.
      this.dropCredit += this.dropShare;
      const lost = this.dropCredit >= 1;
      if (lost) {
        this.dropCredit -= 1;
        dispatched.lost += 1;
      }
      let job: Promise<void>;
      if (this.reorderWindowMs > 0) {
        // A Park-Miller step: the same sequence of changes gets the same holds, so a run replays.
        this.reorderSeed = (this.reorderSeed * 48271) % 2147483647;
        const holdMs = this.reorderSeed % this.reorderWindowMs;
        job = new Promise<void>((resolve) => setTimeout(resolve, holdMs)).then(() => this.deliver(hook, event, fields, lost));
      } else job = this.chain = this.chain.then(() => this.deliver(hook, event, fields, lost));
      this.inFlight.add(job);
      void job.finally(() => this.inFlight.delete(job));
    }
  }

  /** Resolves when every queued delivery has been attempted (used by close and by tests). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private eventLists(event: ChangeEvent): string[] {
    return 'listId' in event ? [event.listId] : event.listIds;
  }

  private matches(hook: WebhookRecord, event: ChangeEvent): boolean {
    if (!hook.active) return false;
    if (!hook.events.includes(event.type)) return false;
    if (!hook.sources.includes(event.source)) return false;
    // "If set, only events happening on this list id will trigger the webhook." For contact-level events
    // (bounce, update) the emulator reads that as "the contact is on that list".
    if (hook.listid !== '0' && !this.eventLists(event).includes(hook.listid)) return false;
    return true;
  }

  private payload(event: ChangeEvent): Record<string, string> {
    const contact = this.state.contacts.get(event.contactId);
    const tagNames = contact
      ? this.state
          .tagsOf(contact.id)
          .map((ct) => this.state.tags.get(ct.tag)?.tag)
          .filter((name): name is string => name !== undefined)
      : [];
    const fields: Record<string, string> = {
      type: event.type,
      date_time: this.clock.iso(event.at),
      initiated_from: event.source,
      initiated_by: event.source,
      list: 'listId' in event ? event.listId : '0',
      'contact[id]': event.contactId,
      'contact[email]': contact?.email ?? '',
      'contact[first_name]': contact?.firstName ?? '',
      'contact[last_name]': contact?.lastName ?? '',
      'contact[phone]': contact?.phone ?? '',
      'contact[tags]': tagNames.join(', '),
      'contact[orgname]': '',
      'contact[ip]': '0',
      'contact[customer_acct_name]': '',
    };
    if (event.type === 'subscribe') fields['form[id]'] = '0';
    if (event.type === 'unsubscribe') {
      // Per the AsyncAPI: the campaign block, each list left as list[][id], the reason, and the first remaining
      // active subscription. NOTE: with a qs-style parser `list` and `list[][id]` merge into one array.
      Object.assign(fields, {
        'campaign[id]': '0',
        'campaign[name]': '',
        'campaign[status]': '',
        'campaign[type]': '',
        'campaign[recipients]': '',
        'campaign[message][id]': '0',
        'campaign[message][subject]': '',
        'campaign[webcopy_url]': '',
        'list[][id]': event.listId,
        'form[id]': '0',
        'unsubscribe[reason]': event.reason,
        customer_acct_name: '',
        customer_acct_id: '0',
        orgname: '',
        account_id: '0',
      });
      const active = this.state.membershipsOf(event.contactId).find((m) => m.status === 1);
      if (active) fields['active_subscriptions[0]'] = active.list;
    }
    if (event.type === 'bounce') {
      Object.assign(fields, {
        'campaign[id]': '0',
        'bounce[type]': event.bounceType,
        'bounce[code]': event.code,
        'bounce[description]': event.description,
      });
    }
    return fields;
  }

  private async deliver(hook: WebhookRecord, event: ChangeEvent, fields: Record<string, string>, lost: boolean): Promise<void> {
    if (!hook.active) return;
    const record: WebhookDelivery = {
      webhookId: hook.id,
      url: hook.url,
      type: event.type,
      source: event.source,
      contactId: event.contactId,
      list: fields.list ?? '0',
      fields,
      sentAt: new Date(),
      deactivatedHook: false,
    };
    if (lost) {
      // Lost between AC and the receiver (a network fault): never arrives, and "webhooks are never retried".
      record.error = 'lost on the way (sandbox webhookDropShare)';
      this.deliveries.push(record);
      return;
    }
    try {
      const response = await fetch(hook.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(fields).toString(),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      record.status = response.status;
      await response.arrayBuffer().catch(() => undefined);
      if (response.status === 410) {
        hook.active = false;
        record.deactivatedHook = true;
      }
    } catch (error) {
      // Never retried, like AC: the failure is only recorded.
      record.error = error instanceof Error ? error.message : String(error);
    }
    this.deliveries.push(record);
  }
}
