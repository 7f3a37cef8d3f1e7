// Drives the emulators as people do and reads their state back as the reference model's plain data. Everything
// here speaks "system space": real Salesforce record ids, real ActiveCampaign list ids, run-unique emails.
import type { Sandbox } from '../../support/sandbox-harness';
import { patchCollection } from '../../support/salesforce-user';
import { emailKey, type ListStatus, type ModelAcContact, type ModelRecord, type ModelWorld } from '../reference-model';
import type { Round, SystemSequence } from './system-sequences';

/** The model's list ids ('1'..'4') mapped to lists created once per sandbox. */
export type ListMap = Record<string, string>;

export function createLists(sandbox: Sandbox): ListMap {
  return Object.fromEntries(['1', '2', '3', '4'].map((id) => [id, sandbox.ac.createList(`Model list ${id}`).id]));
}

/** Prefixes an address for one run, keeping the case style people typed it in (mixed case must survive). */
function runEmail(prefix: string, email: string): string {
  const first = email.charAt(0);
  return `${first === first.toUpperCase() ? prefix.toUpperCase() : prefix}${email}`;
}

export interface MaterialisedRun {
  /** Records with their real ids and run emails (values as seeded, before the baseline settles). */
  records: ModelRecord[];
  /** Every email key of the run (lower case). */
  emails: string[];
  rounds: Round[];
}

/**
 * Seeds one generated world into the emulators under fresh emails: AC contacts silently (as if they had been there
 * before), hard bounces through AC's mail system (a webhook), Salesforce records by insert. The caller settles
 * the system afterwards and reads the result back as the model's starting world.
 */
export function materialise(sandbox: Sandbox, lists: ListMap, sequence: SystemSequence, prefix: string): MaterialisedRun {
  const ids = new Map<string, string>();
  const records = sequence.world.records.map((r) => {
    const email = runEmail(prefix, r.email);
    const fields = { LastName: `Model ${r.id}`, Email: email, HasOptedOutOfEmail: r.optedOut, ...(r.objectName === 'Lead' ? { Company: 'Model Co' } : {}) };
    const id = String(sandbox.sf.insert(r.objectName, fields).Id);
    ids.set(r.id, id);
    return { ...r, id, email };
  });
  for (const [key, contact] of Object.entries(sequence.world.ac)) {
    const email = runEmail(prefix, key);
    // A bounced contact's lists read 3 in the generated world; seed them as they were before the bounce.
    const seeded = Object.fromEntries(Object.entries(contact.lists).map(([list, status]) => [lists[list] ?? list, contact.hardBounced && status === 3 ? 1 : status]));
    sandbox.ac.createContact(email, { lists: seeded as Record<string, ListStatus> });
    if (contact.hardBounced) sandbox.ac.hardBounce(email);
  }
  const rounds = sequence.rounds.map((round) => ({
    offline: round.offline,
    actions: round.actions.map((a) => {
      if (a.kind === 'sf-set-opt-out') return { ...a, recordId: ids.get(a.recordId) ?? a.recordId };
      if (a.kind === 'sf-set-email') return { ...a, recordId: ids.get(a.recordId) ?? a.recordId, email: runEmail(prefix, a.email) };
      const email = runEmail(prefix, a.email);
      if (a.kind === 'ac-hard-bounce') return { ...a, email };
      return { ...a, email, list: a.list === 'all' ? 'all' : (lists[a.list] ?? a.list) };
    }),
  }));
  const emails = [...new Set(records.map((r) => emailKey(r.email)))];
  return { records, emails, rounds };
}

/** What the emulators hold now for the run's records and emails, as the model's data. */
export function readWorld(sandbox: Sandbox, records: readonly ModelRecord[], emails: readonly string[]): ModelWorld {
  const ac: Record<string, ModelAcContact> = {};
  for (const email of emails) {
    const contact = sandbox.ac.contactByEmail(email);
    if (contact === undefined) continue;
    ac[email] = { lists: Object.fromEntries(Object.entries(contact.lists).map(([l, s]) => [l, Number(s) as ListStatus])), hardBounced: contact.bouncedHard > 0 };
  }
  return {
    records: records.map((r) => {
      const fields = sandbox.sf.get(r.objectName, r.id);
      // Times are not observable as such; the model only needs them to order R5 against later actions.
      return { ...r, optedOut: fields?.HasOptedOutOfEmail === true, hardBounced: fields?.AC_Hard_Bounced__c === true, optOutChangedAt: null };
    }),
    ac,
  };
}

/** Differences between what the model says and what the emulators hold, one line each (empty: they agree). */
export function differences(expected: ModelWorld, actual: ModelWorld): string[] {
  const out: string[] = [];
  for (const want of expected.records) {
    const got = actual.records.find((r) => r.id === want.id);
    if (got === undefined) out.push(`${want.objectName} ${want.id}: missing`);
    else {
      if (got.optedOut !== want.optedOut) out.push(`${want.objectName} ${want.id} <${want.email}> HasOptedOutOfEmail: model ${want.optedOut}, system ${got.optedOut}`);
      if (got.hardBounced !== want.hardBounced) out.push(`${want.objectName} ${want.id} <${want.email}> AC_Hard_Bounced__c: model ${want.hardBounced}, system ${got.hardBounced}`);
    }
  }
  for (const email of new Set([...Object.keys(expected.ac), ...Object.keys(actual.ac)])) {
    const want = expected.ac[email];
    const got = actual.ac[email];
    if (want === undefined || got === undefined) {
      out.push(`AC contact ${email}: model ${want === undefined ? 'absent' : 'present'}, system ${got === undefined ? 'absent' : 'present'}`);
      continue;
    }
    if (want.hardBounced !== got.hardBounced) out.push(`AC contact ${email} bounced: model ${want.hardBounced}, system ${got.hardBounced}`);
    for (const list of new Set([...Object.keys(want.lists), ...Object.keys(got.lists)])) {
      if (want.lists[list] !== got.lists[list]) out.push(`AC contact ${email} list ${list}: model ${want.lists[list] ?? 'none'}, system ${got.lists[list] ?? 'none'}`);
    }
  }
  return out;
}

/**
 * Applies one round as people would: Salesforce edits in one collections PATCH by an admin user (one merged change
 * event for several records, as a list view edit gives), AC actions through the account's person actions (webhooks
 * with source `public`/`system`). Actions the model treats as no-ops on the state before the round (AC actions on a
 * contact that does not exist; unsubscribing from a list the contact is not on, which the emulator would record as
 * a new unsubscribed membership) are not sent: the test only drives what the model can represent.
 */
export async function applyRound(sandbox: Sandbox, round: Round, before: ModelWorld): Promise<void> {
  const edits: { type: string; id: string; fields: Record<string, unknown> }[] = [];
  for (const action of round.actions) {
    if (action.kind === 'sf-set-opt-out') {
      const record = before.records.find((r) => r.id === action.recordId);
      if (record !== undefined) edits.push({ type: record.objectName, id: record.id, fields: { HasOptedOutOfEmail: action.optedOut } });
      continue;
    }
    if (action.kind === 'sf-set-email') {
      const record = before.records.find((r) => r.id === action.recordId);
      if (record !== undefined) edits.push({ type: record.objectName, id: record.id, fields: { Email: action.email } });
      continue;
    }
    const contact = before.ac[emailKey(action.email)];
    if (action.kind === 'ac-subscribe') sandbox.ac.subscribe(action.email, action.list);
    else if (contact === undefined) continue;
    else if (action.kind === 'ac-hard-bounce') sandbox.ac.hardBounce(action.email);
    else if (action.list === 'all' || contact.lists[action.list] !== undefined) sandbox.ac.unsubscribe(action.email, action.list);
  }
  if (edits.length > 0) await patchCollection(sandbox.sf, edits);
}

