// POST /import/bulk_import as AC documents it (research §4, spec operation bulk-import-contacts):
// - up to 250 contacts per request; one invalid email rejects the WHOLE batch with 400, nothing queued;
// - its own limits: 100 multi-contact and 20 single-contact imports per minute (400 "Rate limit exceeded.");
// - asynchronous: answers a batchId, the work happens later; GET /import/info?batchId= reports it. The docs warn
//   that right after the POST the status "may be `false` (a boolean)" before the system sets one;
// - creates contacts that don't exist; "Contacts may not be subscribed to lists which they have previously
//   unsubscribed from"; fires no webhooks ("mass operations (e.g. contact imports) do not fire webhooks").
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { AccountState } from './account-state';
import { SlidingWindowLimiter } from './account-rate-limiter';
import type { JsonObject } from './resource-representations';

export const MAX_CONTACTS_PER_IMPORT = 250;

const listRef = z.object({ listid: z.union([z.string(), z.number()]).transform(String) });
const importContact = z.object({
  email: z.unknown(),
  first_name: z.string().optional(),
  last_name: z.string().optional(),
  phone: z.string().optional(),
  tags: z.array(z.string()).optional(),
  subscribe: z.array(listRef).optional(),
  unsubscribe: z.array(listRef).optional(),
});
export const bulkImportBody = z.object({
  contacts: z.array(importContact),
  exclude_automations: z.boolean().optional(),
  callback: z.unknown().optional(),
});
type ImportContact = z.infer<typeof importContact>;

// A pragmatic address check; AC's exact rule is not published. It rejects what AC's example rejects
// ("invalid.email@invalidDomain" lacks a dot-separated TLD, quotes are refused).
const EMAIL = /^[A-Za-z0-9.!#$%&*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$/;
export function isValidEmail(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 254 && EMAIL.test(value);
}

export type BatchStatus = false | 'pending' | 'completed';

interface Batch {
  id: string;
  contacts: ImportContact[];
  queuedAt: number;
  statusSetAt: number;
  completed: boolean;
  success: string[];
  failure: string[];
  forDate: string;
}

export interface BulkImportOptions {
  processingMs: number;
  statusUnsetMs: number;
  multiPerWindow: number;
  singlePerWindow: number;
  windowMs: number;
}

export type ImportAnswer = { status: number; body: JsonObject };

export class BulkImporter {
  private readonly batches = new Map<string, Batch>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly multiLimiter: SlidingWindowLimiter;
  private readonly singleLimiter: SlidingWindowLimiter;

  constructor(
    private readonly state: AccountState,
    private readonly options: BulkImportOptions,
  ) {
    this.multiLimiter = new SlidingWindowLimiter(options.multiPerWindow, options.windowMs);
    this.singleLimiter = new SlidingWindowLimiter(options.singlePerWindow, options.windowMs);
  }

  submit(raw: unknown): ImportAnswer {
    const parsed = bulkImportBody.safeParse(raw);
    if (!parsed.success) {
      return {
        status: 400,
        body: {
          success: 0,
          message:
            'JSON payload did not pass validation. Please fix failure Reasons and retry. The import was not queued for processing.',
          failureReasons: ["Field 'contacts' is required."],
        },
      };
    }
    const { contacts } = parsed.data;
    if (contacts.length === 0 || contacts.length > MAX_CONTACTS_PER_IMPORT) {
      return {
        status: 400,
        body: {
          success: 0,
          message:
            'JSON payload did not pass validation. Please fix failure Reasons and retry. The import was not queued for processing.',
          failureReasons: [`Between 1 and ${MAX_CONTACTS_PER_IMPORT} contacts may be imported per request.`],
        },
      };
    }
    const failureReasons = contacts.flatMap((c, index) =>
      isValidEmail(c.email) ? [] : [{ contact: index, failureReason: 'Field‘ email’ incorrect format' }],
    );
    if (failureReasons.length > 0) {
      return {
        status: 400,
        body: {
          success: 0,
          message:
            'JSON payload did not pass validation. Please fix failure Reasons and retry. The import was not queued for processing.',
          failureReasons,
        },
      };
    }
    const single = contacts.length === 1;
    const decision = (single ? this.singleLimiter : this.multiLimiter).take();
    if (!decision.allowed) {
      const perMinute = single ? this.options.singlePerWindow : this.options.multiPerWindow;
      return {
        status: 400,
        body: {
          success: 0,
          message: 'Rate limit exceeded.',
          failureReasons: [
            `Up to ${perMinute} imports may be requested per minute.Please batch contacts into larger requests, or retry this request in a minute.`,
          ],
        },
      };
    }
    const now = Date.now();
    const batch: Batch = {
      id: randomUUID(),
      contacts,
      queuedAt: now,
      statusSetAt: now + this.options.statusUnsetMs,
      completed: false,
      success: [],
      failure: [],
      forDate: this.state.clock.day(this.state.clock.current()),
    };
    this.batches.set(batch.id, batch);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.process(batch);
    }, this.options.processingMs);
    this.timers.add(timer);
    return {
      status: 200,
      body: { Success: 1, queued_contacts: contacts.length, batchId: batch.id, message: 'Contact import queued' },
    };
  }

  info(batchId: string | undefined): ImportAnswer {
    if (!batchId) return { status: 400, body: { success: 0, message: "'batchId' is a required field." } };
    const batch = this.batches.get(batchId);
    // AC's answer for an unknown batch id is not documented; an empty, unset status is the least surprising.
    if (!batch) return { status: 200, body: { status: false, success: [], failure: [] } };
    const status: BatchStatus = batch.completed ? 'completed' : Date.now() < batch.statusSetAt ? false : 'pending';
    return {
      status: 200,
      body: { status, success: batch.completed ? batch.success : [], failure: batch.completed ? batch.failure : [] },
    };
  }

  statusList(): JsonObject {
    const summarise = (completed: boolean) => {
      const byDay = new Map<string, { batches: number; contacts: number }>();
      for (const batch of this.batches.values()) {
        if (batch.completed !== completed) continue;
        const day = byDay.get(batch.forDate) ?? { batches: 0, contacts: 0 };
        day.batches += 1;
        day.contacts += batch.contacts.length;
        byDay.set(batch.forDate, day);
      }
      return [...byDay].map(([forDate, d]) => ({ forDate, batches: String(d.batches), contacts: String(d.contacts) }));
    };
    return { outstanding: summarise(false), recentlyCompleted: summarise(true) };
  }

  /** Completes every queued batch now (for control use; tests normally wait for the configured delay). */
  flush(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const batch of this.batches.values()) if (!batch.completed) this.process(batch);
  }

  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private process(batch: Batch): void {
    if (batch.completed) return;
    for (const item of batch.contacts) {
      const email = String(item.email);
      const lists = [...(item.subscribe ?? []), ...(item.unsubscribe ?? [])].map((l) => l.listid);
      if (lists.some((id) => !this.state.lists.has(id))) {
        // Per-contact failures are reported as bare emails with no reason (research §4).
        batch.failure.push(email);
        continue;
      }
      let contact = this.state.findContactByEmail(email);
      if (!contact)
        contact = this.state.createContact({
          email,
          firstName: item.first_name,
          lastName: item.last_name,
          phone: item.phone,
        });
      else
        this.state.updateContactFields(
          contact,
          { firstName: item.first_name, lastName: item.last_name, phone: item.phone },
          null,
        );
      for (const { listid } of item.subscribe ?? []) {
        const current = this.state.membership(contact.id, listid)?.status;
        // Never re-subscribes an unsubscribed (or bounced) contact.
        if (current === 2 || current === 3) continue;
        this.state.setListStatus(contact, listid, 1, null);
      }
      for (const { listid } of item.unsubscribe ?? []) this.state.setListStatus(contact, listid, 2, null);
      for (const name of item.tags ?? []) {
        const tag = this.state.findTagByName(name) ?? this.state.createTag({ tag: name });
        this.state.addTag(contact, tag.id);
      }
      batch.success.push(contact.id);
    }
    batch.completed = true;
  }
}
