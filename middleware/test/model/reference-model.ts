// Reference model: an executable reading of rules R1-R6 of the design brief (DESIGN §1) over plain data. It is
// the specification the product is checked against, so it imports NOTHING from middleware/src: it must not be
// able to agree with the product by construction.
//
// Input: a starting world (Salesforce records, ActiveCampaign contacts) and a history of timed actions by people:
// Salesforce edits (opt out / opt in one record) and ActiveCampaign actions (unsubscribe from one list or all,
// subscribe to a list, hard bounce). Output: what both systems must hold once everything has settled.
//
// "Settled" means every action was followed by all its consequences before the next action: actions are applied
// in time order (ties keep their order in the history), as if the sync were instantaneous.
//
// Conflicts it resolves, and how:
// - Sticky opt-out (R1, R2): an opt-out in Salesforce unsubscribes the email from every list it is on (active and
//   unconfirmed lists become 2; bounced lists stay 3, that fact belongs to the bounce); an opt-in in Salesforce
//   changes nothing in ActiveCampaign (resubscribeOnOptIn is off by default and is not modelled).
// - Per-email true opt-out (R3): when the AC contact becomes unsubscribed from all its lists (none active or
//   unconfirmed, at least one unsubscribed), EVERY Salesforce record with that email (case-insensitive, Contacts
//   and Leads alike) is opted out, whoever caused the unsubscribe: a person in AC or this product applying R1.
// - Bounce beats subscribe (R4, R5): a hard bounce opts every record of the email out and sets its separate
//   "hard bounced" flag; no later subscribe undoes it.
// - Newest wins (R5): a subscribe (zero active lists -> one or more) unchecks Email Opt Out on each record whose
//   Salesforce opt-out is not newer than the subscribe; a contact AC first shows us already subscribed (new to us)
//   is not a subscribe by the person, nor is a subscribe whose webhook was lost (only the delivery's
//   initiated_from says who subscribed; the default setting counts only the person's own, `public`).
// - Email changes (R1, R2): a record that is opted out when its Email changes takes R1 to its new address (every
//   list of the new address is unsubscribed, then R3 opts out that address's other records); the old address is
//   left as it is. Its opt-out history does not move. An opted-in record's new address changes nothing. A change
//   of case only counts as an edit too (a change event carries the new value only).
// - No loops, no empty writes (R6): a change this product wrote causes no further rule here (its echo is
//   dropped), and a write that would change nothing is not a change at all.
export type ListStatus = 0 | 1 | 2 | 3;
export type ObjectName = 'Contact' | 'Lead';

export const UNCONFIRMED = 0;
export const ACTIVE = 1;
export const UNSUBSCRIBED = 2;
export const BOUNCED = 3;

export interface ModelRecord {
  id: string;
  objectName: ObjectName;
  /** As typed in Salesforce: case may differ between records of one person. */
  email: string;
  optedOut: boolean;
  hardBounced: boolean;
  /** When the opt-out value last changed (ms since epoch), null when never known. */
  optOutChangedAt: number | null;
}

export interface ModelAcContact {
  /** listId -> status (0 unconfirmed, 1 active, 2 unsubscribed, 3 bounced) */
  lists: Record<string, ListStatus>;
  hardBounced: boolean;
}

export interface ModelWorld {
  records: ModelRecord[];
  /** AC contacts by email key (lower case). */
  ac: Record<string, ModelAcContact>;
}

export type ModelAction =
  | { kind: 'sf-set-opt-out'; at: number; recordId: string; optedOut: boolean }
  | { kind: 'ac-unsubscribe'; at: number; email: string; list: string | 'all' }
  /**
   * `deliveryLost`: AC's webhook for this subscribe never reached the middleware (it was down, or the delivery was
   * lost on the way; AC never sends one again). Only the delivery says who subscribed, so R5 does not count it.
   */
  | { kind: 'ac-subscribe'; at: number; email: string; list: string; deliveryLost?: boolean }
  | { kind: 'sf-set-email'; at: number; recordId: string; email: string }
  | { kind: 'ac-hard-bounce'; at: number; email: string };

/** Why a record or a list changed: the settled state plus this trail explain every difference. */
export interface ModelDecision {
  at: number;
  rule: 'R1' | 'R3' | 'R4' | 'R5' | 'R5-refused';
  target: string;
}

export interface ModelResult {
  world: ModelWorld;
  decisions: ModelDecision[];
}

export function emailKey(email: string): string {
  return email.trim().toLowerCase();
}

export function activeListCount(contact: ModelAcContact): number {
  return Object.values(contact.lists).filter((s) => s === ACTIVE).length;
}

/** R3's condition: on no list actively or pending confirmation, and unsubscribed from at least one. */
export function unsubscribedFromAll(contact: ModelAcContact): boolean {
  const statuses = Object.values(contact.lists);
  return statuses.some((s) => s === UNSUBSCRIBED) && statuses.every((s) => s === UNSUBSCRIBED || s === BOUNCED);
}

export function cloneWorld(world: ModelWorld): ModelWorld {
  return {
    records: world.records.map((r) => ({ ...r })),
    ac: Object.fromEntries(Object.entries(world.ac).map(([k, c]) => [k, { lists: { ...c.lists }, hardBounced: c.hardBounced }])),
  };
}

/**
 * What ActiveCampaign itself does when a person acts (vendor behaviour, not a sync rule): a subscribe form creates
 * an unknown contact; "unsubscribe from all" moves every list not yet unsubscribed to 2; a hard bounce marks the
 * contact bounced and its active and unconfirmed lists 3. Returns the contact before the action (null when new).
 */
export function applyAcPersonAction(world: ModelWorld, action: Exclude<ModelAction, { kind: 'sf-set-opt-out' | 'sf-set-email' }>): { before: ModelAcContact | null; after: ModelAcContact | null } {
  const key = emailKey(action.email);
  const existing = world.ac[key];
  const before = existing === undefined ? null : { lists: { ...existing.lists }, hardBounced: existing.hardBounced };
  if (action.kind === 'ac-subscribe') {
    const contact = existing ?? { lists: {}, hardBounced: false };
    contact.lists[action.list] = ACTIVE;
    world.ac[key] = contact;
    return { before, after: contact };
  }
  if (existing === undefined) return { before, after: null };
  if (action.kind === 'ac-unsubscribe') {
    const targets = action.list === 'all' ? Object.keys(existing.lists) : Object.keys(existing.lists).filter((l) => l === action.list);
    for (const list of targets) if (existing.lists[list] !== UNSUBSCRIBED) existing.lists[list] = UNSUBSCRIBED;
  } else {
    existing.hardBounced = true;
    for (const [list, status] of Object.entries(existing.lists)) if (status === ACTIVE || status === UNCONFIRMED) existing.lists[list] = BOUNCED;
  }
  return { before, after: existing };
}

/** Settles a history: applies each action in time order with every consequence the rules give it. */
export function settle(initial: ModelWorld, history: readonly ModelAction[]): ModelResult {
  const world = cloneWorld(initial);
  const decisions: ModelDecision[] = [];
  const ordered = history.map((action, index) => ({ action, index })).sort((a, b) => a.action.at - b.action.at || a.index - b.index);
  for (const { action } of ordered) {
    if (action.kind === 'sf-set-opt-out') applySalesforceEdit(world, action, decisions);
    else if (action.kind === 'sf-set-email') applyEmailChange(world, action, decisions);
    else {
      const { before, after } = applyAcPersonAction(world, action);
      if (after !== null) applyAcConsequences(world, emailKey(action.email), before, after, action.at, decisions, action.kind !== 'ac-subscribe' || action.deliveryLost !== true);
    }
  }
  return { world, decisions };
}

function recordsOf(world: ModelWorld, key: string): ModelRecord[] {
  return world.records.filter((r) => emailKey(r.email) === key);
}

function applySalesforceEdit(world: ModelWorld, action: Extract<ModelAction, { kind: 'sf-set-opt-out' }>, decisions: ModelDecision[]): void {
  const record = world.records.find((r) => r.id === action.recordId);
  // An edit that leaves the value as it was is no opt-out change (Salesforce reports no changed field).
  if (record === undefined || record.optedOut === action.optedOut) return;
  record.optedOut = action.optedOut;
  record.optOutChangedAt = action.at;
  // R2: an opt-in changes nothing in ActiveCampaign.
  if (!action.optedOut) return;
  const key = emailKey(record.email);
  const contact = world.ac[key];
  if (contact === undefined) return;
  unsubscribeEverywhere(world, key, action.at, decisions);
}

/** R1 for one address: every list it is on and could still be mailed from; then R3 for its other records. */
function unsubscribeEverywhere(world: ModelWorld, key: string, at: number, decisions: ModelDecision[]): void {
  const contact = world.ac[key];
  if (contact === undefined) return;
  const before = { lists: { ...contact.lists }, hardBounced: contact.hardBounced };
  for (const [list, status] of Object.entries(contact.lists)) {
    if (status === ACTIVE || status === UNCONFIRMED) {
      contact.lists[list] = UNSUBSCRIBED;
      decisions.push({ at, rule: 'R1', target: `${key} list ${list}` });
    }
  }
  // The product's own unsubscribe still makes the contact "unsubscribed from all": R3 opts out the email's other
  // records (true opt-out). R6 only drops the echo of writes; it does not exempt this consequence.
  applyAcConsequences(world, key, before, contact, at, decisions);
}

/** An Email edit: R1 follows an opted-out record to its new address; the old address keeps its lists (R2). */
function applyEmailChange(world: ModelWorld, action: Extract<ModelAction, { kind: 'sf-set-email' }>, decisions: ModelDecision[]): void {
  const record = world.records.find((r) => r.id === action.recordId);
  // An edit that types the same string is no change (Salesforce reports none). A change of case only is the same
  // address, but a change event carries only the new value, so nobody can tell it from a new address: R1 applies
  // to the address the record now has either way (the safe side; its lists were the record's R1 to leave anyway).
  if (record === undefined || record.email === action.email) return;
  record.email = action.email;
  if (record.optedOut) unsubscribeEverywhere(world, emailKey(action.email), action.at, decisions);
}

/** R3, R4, R5 for one AC contact that went from `before` (null: new to us) to `after`. */
function applyAcConsequences(world: ModelWorld, key: string, before: ModelAcContact | null, after: ModelAcContact, at: number, decisions: ModelDecision[], personSaidSo = true): void {
  const records = recordsOf(world, key);
  if (after.hardBounced && before?.hardBounced !== true) {
    // R4: opted out and flagged, so admins can tell a bounce from a choice.
    for (const record of records) {
      if (!record.optedOut) {
        record.optedOut = true;
        record.optOutChangedAt = at;
      }
      record.hardBounced = true;
      decisions.push({ at, rule: 'R4', target: record.id });
    }
  }
  if (unsubscribedFromAll(after) && (before === null || !unsubscribedFromAll(before))) {
    // R3: every record with that email.
    for (const record of records) {
      if (record.optedOut) continue;
      record.optedOut = true;
      record.optOutChangedAt = at;
      decisions.push({ at, rule: 'R3', target: record.id });
    }
  }
  // R5: zero active lists -> one or more; never for a contact new to us, never after a hard bounce; only when the
  // subscribe's delivery said the person made it (R5_Subscribe_Sources__c, default public: the model's people
  // subscribe through forms, so a delivered subscribe is theirs and a lost one has no known source).
  if (personSaidSo && before !== null && activeListCount(before) === 0 && activeListCount(after) > 0 && !after.hardBounced) {
    for (const record of records) {
      if (!record.optedOut) continue;
      if (record.hardBounced || (record.optOutChangedAt !== null && record.optOutChangedAt > at)) {
        decisions.push({ at, rule: 'R5-refused', target: record.id });
        continue;
      }
      record.optedOut = false;
      record.optOutChangedAt = at;
      decisions.push({ at, rule: 'R5', target: record.id });
    }
  }
}
