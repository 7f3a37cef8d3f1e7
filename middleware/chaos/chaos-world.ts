// The chaos run's book of what should be: the seeded people, the generated actions, and the reference model's
// expectation after each action (middleware/test/model/reference-model.ts, written from the rules, not the product).
// Plain data, no I/O.
import { ACTIVE, BOUNCED, UNSUBSCRIBED, emailKey, settle, type ListStatus, type ModelAction, type ModelDecision, type ModelRecord, type ModelWorld } from '../test/model/reference-model';
import type { SeededRandom } from './seeded-random';

export interface SeedPerson {
  email: string;
  /** Emails as typed on each record: a Lead may spell the same address in another case. */
  records: { objectName: 'Contact' | 'Lead'; email: string }[];
  /** AC list ids the person is actively on; null when the email is not in ActiveCampaign. */
  acLists: string[] | null;
}

/** Who exists at the start: every record opted in, every AC membership active (a settled, consistent start). */
export function generatePeople(random: SeededRandom, count: number, listIds: string[]): SeedPerson[] {
  const people: SeedPerson[] = [];
  for (let i = 0; i < count; i++) {
    const email = `chaos${i}@example.com`;
    const records: SeedPerson['records'] = [{ objectName: 'Contact', email }];
    if (random.chance(0.3)) records.push({ objectName: 'Lead', email: email.toUpperCase() });
    if (random.chance(0.1)) records.push({ objectName: 'Contact', email: `Chaos${i}@Example.com` });
    const acLists = random.chance(0.88) ? listIds.filter(() => random.chance(0.6)) : null;
    people.push({ email, records, acLists: acLists !== null && acLists.length === 0 ? [listIds[0] ?? '1'] : acLists });
  }
  return people;
}

/** The model's starting world, once Salesforce has given the records their ids. */
export function initialWorld(people: SeedPerson[], recordIds: Map<string, string[]>): ModelWorld {
  const records: ModelRecord[] = [];
  const ac: ModelWorld['ac'] = {};
  for (const person of people) {
    const ids = recordIds.get(person.email) ?? [];
    person.records.forEach((r, i) => {
      const id = ids[i];
      if (id !== undefined) records.push({ id, objectName: r.objectName, email: r.email, optedOut: false, hardBounced: false, optOutChangedAt: null });
    });
    if (person.acLists !== null) ac[emailKey(person.email)] = { lists: Object.fromEntries(person.acLists.map((l) => [l, ACTIVE as ListStatus])), hardBounced: false };
  }
  return { records, ac };
}

/** One generated action by a person, for one email, valid against the current expected world. */
export function generateAction(random: SeededRandom, world: ModelWorld, email: string, listIds: string[], at: number): ModelAction {
  const key = emailKey(email);
  const records = world.records.filter((r) => emailKey(r.email) === key);
  const contact = world.ac[key];
  const roll = random.next();
  const sfEdit = (optedOut: boolean): ModelAction => {
    const candidates = records.filter((r) => r.optedOut !== optedOut);
    const record = candidates.length > 0 ? random.pick(candidates) : random.pick(records);
    return { kind: 'sf-set-opt-out', at, recordId: record.id, optedOut: candidates.length > 0 ? optedOut : !optedOut };
  };
  if (roll < 0.35) return sfEdit(true);
  if (roll < 0.55) return sfEdit(false);
  if (roll < 0.7) {
    const active = contact === undefined ? [] : Object.entries(contact.lists).filter(([, s]) => s === ACTIVE).map(([l]) => l);
    if (active.length > 0) return { kind: 'ac-unsubscribe', at, email, list: random.pick(active) };
  } else if (roll < 0.8) {
    if (contact !== undefined && Object.values(contact.lists).some((s) => s !== UNSUBSCRIBED)) return { kind: 'ac-unsubscribe', at, email, list: 'all' };
  } else if (roll < 0.95) {
    const notActive = listIds.filter((l) => contact?.lists[l] !== ACTIVE);
    if (notActive.length > 0) return { kind: 'ac-subscribe', at, email, list: random.pick(notActive) };
  } else if (contact !== undefined && !contact.hardBounced) {
    return { kind: 'ac-hard-bounce', at, email };
  }
  return sfEdit(random.chance(0.5));
}

/** Applies one action to the expected world (the model settles it as if the sync were instantaneous). */
export function applyAction(world: ModelWorld, action: ModelAction): { world: ModelWorld; decisions: ModelDecision[] } {
  return settle(world, [action]);
}

export interface ObservedRecord {
  id: string;
  email: string;
  optedOut: boolean;
  hardBounced: boolean;
}

export interface ObservedContact {
  lists: Record<string, number>;
  hardBounced: boolean;
}

export interface Difference {
  email: string;
  what: string;
  expected: string;
  actual: string;
  /** An opt-out the model holds that a system lost (a record opted in, or a list still mailable). */
  lostOptOut: boolean;
}

/** Everything about one email on which the systems differ from the model. */
export function compareEmail(world: ModelWorld, key: string, records: Map<string, ObservedRecord>, contact: ObservedContact | null): Difference[] {
  const out: Difference[] = [];
  for (const expected of world.records.filter((r) => emailKey(r.email) === key)) {
    const actual = records.get(expected.id.slice(0, 15));
    if (actual === undefined) {
      out.push({ email: key, what: `record ${expected.id}`, expected: 'present', actual: 'missing', lostOptOut: expected.optedOut });
      continue;
    }
    if (actual.optedOut !== expected.optedOut) out.push({ email: key, what: `record ${expected.id} opt-out`, expected: String(expected.optedOut), actual: String(actual.optedOut), lostOptOut: expected.optedOut });
    if (actual.hardBounced !== expected.hardBounced) out.push({ email: key, what: `record ${expected.id} hard-bounced flag`, expected: String(expected.hardBounced), actual: String(actual.hardBounced), lostOptOut: false });
  }
  const model = world.ac[key];
  if (model === undefined) {
    if (contact !== null) out.push({ email: key, what: 'ac contact', expected: 'absent', actual: JSON.stringify(contact.lists), lostOptOut: false });
    return out;
  }
  if (contact === null) return [...out, { email: key, what: 'ac contact', expected: JSON.stringify(model.lists), actual: 'absent', lostOptOut: false }];
  for (const list of new Set([...Object.keys(model.lists), ...Object.keys(contact.lists)])) {
    const e = model.lists[list];
    const a = contact.lists[list];
    if (e === a) continue;
    const mailable = a === ACTIVE || a === 0;
    out.push({ email: key, what: `ac list ${list}`, expected: String(e), actual: String(a), lostOptOut: (e === UNSUBSCRIBED || e === BOUNCED) && mailable });
  }
  if (contact.hardBounced !== model.hardBounced) out.push({ email: key, what: 'ac hard bounce', expected: String(model.hardBounced), actual: String(contact.hardBounced), lostOptOut: false });
  return out;
}
