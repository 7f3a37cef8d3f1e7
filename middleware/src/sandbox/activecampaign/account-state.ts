// The emulated account's data and the state changes a real account makes, independent of HTTP. Every change that
// AC reports by webhook is emitted as a ChangeEvent with its source (public/admin/api/system); bulk imports emit
// nothing because "mass operations (e.g. contact imports) do not fire webhooks" (fixtures conventions.yml).
import { AccountClock } from './account-clock';

/** contactList.status: 0 unconfirmed, 1 active, 2 unsubscribed, 3 bounced (AC community staff answer, research §3). */
export type ListStatus = 0 | 1 | 2 | 3;
export type ChangeSource = 'public' | 'admin' | 'api' | 'system';

export interface ContactRecord {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  phone: string;
  cdate: Date;
  udate: Date;
  bouncedHard: number;
  bouncedSoft: number;
  softBouncesInARow: number;
  bouncedDate: Date | null;
  hash: string;
}

export interface ListRecord {
  id: string;
  name: string;
  stringid: string;
  senderUrl: string;
  senderReminder: string;
  cdate: Date;
  udate: Date | null;
}

export interface ContactListRecord {
  id: string;
  contact: string;
  list: string;
  status: ListStatus;
  /** subscribe date */
  sdate: Date | null;
  /** unsubscribe date ("opt-out/unsubscribed date is udate", research §3) */
  udate: Date | null;
  created: Date;
  updated: Date;
  unsubreason: string | null;
  sourceid: string;
}

export interface TagRecord {
  id: string;
  tag: string;
  tagType: string;
  description: string;
  cdate: Date;
}

export interface ContactTagRecord {
  id: string;
  contact: string;
  tag: string;
  cdate: Date;
}

export interface BounceLogRecord {
  id: string;
  contact: string;
  email: string;
  tstamp: Date;
  bounceType: 'hard' | 'soft';
  code: string;
}

export type ChangeEvent =
  | { type: 'subscribe'; source: ChangeSource; contactId: string; listId: string; at: Date }
  | { type: 'unsubscribe'; source: ChangeSource; contactId: string; listId: string; at: Date; reason: string }
  | {
      type: 'bounce';
      source: ChangeSource;
      contactId: string;
      listIds: string[];
      at: Date;
      bounceType: 'hard' | 'soft';
      code: string;
      description: string;
    }
  | { type: 'update'; source: ChangeSource; contactId: string; listIds: string[]; at: Date };

export interface AccountStateOptions {
  clock: AccountClock;
  /** AC does not document whether a list-status change bumps contact.udate; default true (see index.ts). */
  listChangeBumpsUdate: boolean;
  onChange: (event: ChangeEvent) => void;
}

export class NotFoundError extends Error {}

function hashOf(email: string): string {
  let h = 0x811c9dc5;
  for (const ch of email) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0').repeat(4);
}

export class AccountState {
  readonly contacts = new Map<string, ContactRecord>();
  /** Lower-cased email -> contact id: AC keeps one contact per address, and a lookup must not scan 100,000 contacts. */
  private readonly contactIdByEmail = new Map<string, string>();
  readonly lists = new Map<string, ListRecord>();
  readonly contactLists = new Map<string, ContactListRecord>();
  /** contact id -> its memberships: an account of 10,000 contacts must not scan every membership per request. */
  private readonly membershipsByContact = new Map<string, ContactListRecord[]>();
  readonly tags = new Map<string, TagRecord>();
  readonly contactTags = new Map<string, ContactTagRecord>();
  readonly bounceLogs = new Map<string, BounceLogRecord>();
  private readonly counters = new Map<string, number>();

  constructor(private readonly options: AccountStateOptions) {}

  get clock(): AccountClock {
    return this.options.clock;
  }

  set listChangeBumpsUdate(value: boolean) {
    this.options.listChangeBumpsUdate = value;
  }

  nextId(kind: string): string {
    const next = (this.counters.get(kind) ?? 0) + 1;
    this.counters.set(kind, next);
    return String(next);
  }

  findContactByEmail(email: string): ContactRecord | undefined {
    // AC matches emails case-insensitively (one contact per address).
    const id = this.contactIdByEmail.get(email.trim().toLowerCase());
    return id === undefined ? undefined : this.contacts.get(id);
  }

  requireContact(id: string): ContactRecord {
    const contact = this.contacts.get(id);
    if (!contact) throw new NotFoundError(`No Result found for Subscriber with id ${id}`);
    return contact;
  }

  membershipsOf(contactId: string): ContactListRecord[] {
    return [...(this.membershipsByContact.get(contactId) ?? [])];
  }

  membership(contactId: string, listId: string): ContactListRecord | undefined {
    return this.membershipsOf(contactId).find((m) => m.list === listId);
  }

  tagsOf(contactId: string): ContactTagRecord[] {
    return [...this.contactTags.values()].filter((t) => t.contact === contactId);
  }

  createList(fields: { name: string; stringid?: string; senderUrl?: string; senderReminder?: string }): ListRecord {
    const now = this.clock.current();
    const list: ListRecord = {
      id: this.nextId('list'),
      name: fields.name,
      stringid: fields.stringid ?? fields.name.toLowerCase().replace(/[^a-z0-9]+/g, '-'),
      senderUrl: fields.senderUrl ?? '',
      senderReminder: fields.senderReminder ?? '',
      cdate: now,
      udate: now,
    };
    this.lists.set(list.id, list);
    return list;
  }

  createContact(fields: { email: string; firstName?: string; lastName?: string; phone?: string }): ContactRecord {
    const now = this.clock.current();
    const contact: ContactRecord = {
      id: this.nextId('contact'),
      email: fields.email.trim(),
      firstName: fields.firstName ?? '',
      lastName: fields.lastName ?? '',
      phone: fields.phone ?? '',
      cdate: now,
      udate: now,
      bouncedHard: 0,
      bouncedSoft: 0,
      softBouncesInARow: 0,
      bouncedDate: null,
      hash: hashOf(fields.email.trim().toLowerCase()),
    };
    this.contacts.set(contact.id, contact);
    this.contactIdByEmail.set(contact.email.toLowerCase(), contact.id);
    return contact;
  }

  /** Applies contact field changes; emits `update` only when something actually changed. */
  updateContactFields(
    contact: ContactRecord,
    fields: { email?: string; firstName?: string; lastName?: string; phone?: string },
    source: ChangeSource | null,
  ): boolean {
    let changed = false;
    for (const key of ['email', 'firstName', 'lastName', 'phone'] as const) {
      const value = fields[key];
      if (value !== undefined && value !== contact[key]) {
        if (key === 'email') {
          this.contactIdByEmail.delete(contact.email.toLowerCase());
          this.contactIdByEmail.set(value.trim().toLowerCase(), contact.id);
        }
        contact[key] = value;
        changed = true;
      }
    }
    if (!changed) return false;
    contact.udate = this.clock.current();
    if (source) this.emitUpdate(contact, source);
    return true;
  }

  deleteContact(id: string): void {
    const gone = this.requireContact(id);
    this.contacts.delete(id);
    this.contactIdByEmail.delete(gone.email.toLowerCase());
    for (const m of this.membershipsOf(id)) this.contactLists.delete(m.id);
    this.membershipsByContact.delete(id);
    for (const t of this.tagsOf(id)) this.contactTags.delete(t.id);
  }

  /**
   * Sets one list membership's status, creating it if needed, and emits subscribe/unsubscribe for real
   * transitions. `source === null` means a mass operation (bulk import): no webhook, per AC.
   */
  setListStatus(
    contact: ContactRecord,
    listId: string,
    status: ListStatus,
    source: ChangeSource | null,
    extra: { reason?: string; sourceid?: string } = {},
  ): { membership: ContactListRecord; changed: boolean } {
    if (!this.lists.has(listId)) throw new NotFoundError(`No Result found for List with id ${listId}`);
    const now = this.clock.current();
    let membership = this.membership(contact.id, listId);
    const previous = membership?.status;
    if (!membership) {
      membership = {
        id: this.nextId('contactList'),
        contact: contact.id,
        list: listId,
        status,
        sdate: null,
        udate: null,
        created: now,
        updated: now,
        unsubreason: null,
        sourceid: extra.sourceid ?? '0',
      };
      this.contactLists.set(membership.id, membership);
      this.membershipsByContact.set(contact.id, [...(this.membershipsByContact.get(contact.id) ?? []), membership]);
    }
    const changed = previous !== status;
    if (!changed) return { membership, changed };
    membership.status = status;
    membership.updated = now;
    if (extra.sourceid !== undefined) membership.sourceid = extra.sourceid;
    if (status === 1) {
      membership.sdate = now;
      membership.unsubreason = null;
    }
    if (status === 2) {
      membership.udate = now;
      membership.unsubreason = extra.reason ?? '';
    }
    if (this.options.listChangeBumpsUdate) contact.udate = now;
    if (source) {
      if (status === 1) this.options.onChange({ type: 'subscribe', source, contactId: contact.id, listId, at: now });
      if (status === 2)
        this.options.onChange({
          type: 'unsubscribe',
          source,
          contactId: contact.id,
          listId,
          at: now,
          reason: extra.reason ?? '',
        });
    }
    return { membership, changed };
  }

  /**
   * A hard bounce marks the contact bounced at once; soft bounces after three in a row (3 separate campaigns)
   * (AC help "About campaign bounces and bounce codes", research §5). Bounced contacts show list status 3.
   */
  recordBounce(contact: ContactRecord, bounceType: 'hard' | 'soft', code: string, description: string): void {
    const now = this.clock.current();
    if (bounceType === 'hard') {
      contact.bouncedHard += 1;
      contact.softBouncesInARow = 0;
    } else {
      contact.bouncedSoft += 1;
      contact.softBouncesInARow += 1;
    }
    contact.bouncedDate = now;
    contact.udate = now;
    const log: BounceLogRecord = {
      id: this.nextId('bounceLog'),
      contact: contact.id,
      email: contact.email,
      tstamp: now,
      bounceType,
      code,
    };
    this.bounceLogs.set(log.id, log);
    const becomesBounced = bounceType === 'hard' || contact.softBouncesInARow >= 3;
    if (becomesBounced) {
      for (const m of this.membershipsOf(contact.id)) {
        if (m.status === 0 || m.status === 1) {
          m.status = 3;
          m.updated = now;
        }
      }
    }
    const listIds = this.membershipsOf(contact.id).map((m) => m.list);
    this.options.onChange({
      type: 'bounce',
      source: 'system',
      contactId: contact.id,
      listIds,
      at: now,
      bounceType,
      code,
      description,
    });
  }

  addTag(contact: ContactRecord, tagId: string): { contactTag: ContactTagRecord; created: boolean } {
    const existing = this.tagsOf(contact.id).find((t) => t.tag === tagId);
    if (existing) return { contactTag: existing, created: false };
    const now = this.clock.current();
    const contactTag: ContactTagRecord = { id: this.nextId('contactTag'), contact: contact.id, tag: tagId, cdate: now };
    this.contactTags.set(contactTag.id, contactTag);
    // Observed in a real recording: tagging a contact bumps its udate (research §2).
    contact.udate = now;
    return { contactTag, created: true };
  }

  findTagByName(name: string): TagRecord | undefined {
    // Tag names are unique case-insensitively (research §7).
    const wanted = name.toLowerCase();
    for (const tag of this.tags.values()) if (tag.tag.toLowerCase() === wanted) return tag;
    return undefined;
  }

  createTag(fields: { tag: string; tagType?: string; description?: string }): TagRecord {
    const tag: TagRecord = {
      id: this.nextId('tag'),
      tag: fields.tag,
      tagType: fields.tagType ?? 'contact',
      description: fields.description ?? '',
      cdate: this.clock.current(),
    };
    this.tags.set(tag.id, tag);
    return tag;
  }

  private emitUpdate(contact: ContactRecord, source: ChangeSource): void {
    const listIds = this.membershipsOf(contact.id).map((m) => m.list);
    this.options.onChange({ type: 'update', source, contactId: contact.id, listIds, at: contact.udate });
  }
}
