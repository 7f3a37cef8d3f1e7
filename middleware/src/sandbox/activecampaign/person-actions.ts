// The "person" side of the account: what a contact does (unsubscribe link, subscribe form: webhook source
// `public`) or an admin does in the UI (source `admin`), what the mail system does (bounces: source `system`),
// and seeding (no webhooks at all). The product never calls these; tests, the demo and chaos runs do.
import { z } from 'zod';
import type { AccountState, ChangeSource, ContactRecord, ListStatus } from './account-state';

export const personSourceSchema = z.enum(['public', 'admin', 'system']);
export type PersonSource = z.infer<typeof personSourceSchema>;

export interface ContactView {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  /** listId -> contactList.status (0 unconfirmed, 1 active, 2 unsubscribed, 3 bounced) */
  lists: Record<string, ListStatus>;
  bouncedHard: number;
  bouncedSoft: number;
  /** account-local ISO date-time of the last bounce, or null */
  bouncedDate: string | null;
  udate: string;
  tags: string[];
}

export class UnknownContactError extends Error {
  constructor(email: string) {
    // The address is the caller's own test data, not a secret; it helps find a typo in a scenario.
    super(`no contact with email ${email}`);
  }
}

export class PersonActions {
  constructor(private readonly state: AccountState) {}

  createList(name: string): { id: string; name: string } {
    const list = this.state.createList({ name });
    return { id: list.id, name: list.name };
  }

  /** Seeds a contact (and its list statuses) silently, as if it had been there before the test. */
  createContact(
    email: string,
    options: { firstName?: string; lastName?: string; lists?: Record<string, ListStatus> } = {},
  ): ContactView {
    const contact =
      this.state.findContactByEmail(email) ??
      this.state.createContact({ email, firstName: options.firstName, lastName: options.lastName });
    for (const [listId, status] of Object.entries(options.lists ?? {}))
      this.state.setListStatus(contact, listId, status, null);
    return this.view(contact);
  }

  subscribe(email: string, listId: string, options: { source?: PersonSource } = {}): ContactView {
    // A subscribe form creates the contact when it is new.
    const contact = this.state.findContactByEmail(email) ?? this.state.createContact({ email });
    this.state.setListStatus(contact, listId, 1, options.source ?? 'public');
    return this.view(contact);
  }

  unsubscribe(
    email: string,
    listId: string | 'all',
    options: { source?: PersonSource; reason?: string } = {},
  ): ContactView {
    const contact = this.require(email);
    const source: ChangeSource = options.source ?? 'public';
    const targets =
      listId === 'all'
        ? this.state
            .membershipsOf(contact.id)
            .filter((m) => m.status !== 2)
            .map((m) => m.list)
        : [listId];
    // One change (and at most one webhook per hook) for each list left.
    for (const target of targets)
      this.state.setListStatus(contact, target, 2, source, { reason: options.reason ?? '' });
    return this.view(contact);
  }

  hardBounce(email: string, options: { code?: string; description?: string } = {}): ContactView {
    const contact = this.require(email);
    this.state.recordBounce(contact, 'hard', options.code ?? '5.1.1', options.description ?? 'Mailbox does not exist');
    return this.view(contact);
  }

  softBounce(email: string, options: { code?: string; description?: string } = {}): ContactView {
    const contact = this.require(email);
    this.state.recordBounce(contact, 'soft', options.code ?? '4.2.2', options.description ?? 'Mailbox full');
    return this.view(contact);
  }

  updateEmail(oldEmail: string, newEmail: string, options: { source?: PersonSource } = {}): ContactView {
    const contact = this.require(oldEmail);
    this.state.updateContactFields(contact, { email: newEmail }, options.source ?? 'admin');
    return this.view(contact);
  }

  contactByEmail(email: string): ContactView | undefined {
    const contact = this.state.findContactByEmail(email);
    return contact ? this.view(contact) : undefined;
  }

  private require(email: string): ContactRecord {
    const contact = this.state.findContactByEmail(email);
    if (!contact) throw new UnknownContactError(email);
    return contact;
  }

  private view(contact: ContactRecord): ContactView {
    const clock = this.state.clock;
    return {
      id: contact.id,
      email: contact.email,
      firstName: contact.firstName,
      lastName: contact.lastName,
      lists: Object.fromEntries(this.state.membershipsOf(contact.id).map((m) => [m.list, m.status])),
      bouncedHard: contact.bouncedHard,
      bouncedSoft: contact.bouncedSoft,
      bouncedDate: contact.bouncedDate ? clock.iso(contact.bouncedDate) : null,
      udate: clock.iso(contact.udate),
      tags: this.state
        .tagsOf(contact.id)
        .map((ct) => this.state.tags.get(ct.tag)?.tag)
        .filter((name): name is string => name !== undefined),
    };
  }
}
