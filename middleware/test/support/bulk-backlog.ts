// Setup shared by the bulk-path suites: people known to both vendors and to the middleware's snapshot, and a
// backlog of their opt-outs.
import type { Sandbox } from './sandbox-harness';
import { patchCollection } from './salesforce-user';
import { waitFor } from './wait-for';

/** Creates each person in AC on these lists and as a Salesforce Contact, then has a poll put them in the snapshot. */
export async function knownPeople(sandbox: Sandbox, people: readonly string[], lists: Record<string, 0 | 1 | 2>): Promise<string[]> {
  for (const email of people) sandbox.ac.createContact(email, { lists });
  const ids = people.map((email, i) => String(sandbox.sf.insert('Contact', { LastName: `Person${i}`, Email: email, HasOptedOutOfEmail: false }).Id));
  await sandbox.app!.pollNow();
  await waitFor(async () => (await sandbox.app!.store.snapshots.findByEmails([...people])).size === people.length, { what: 'the people in the snapshot' });
  return ids;
}

/** Opts these Contacts out in one bulk update (one change event, a backlog for the push path). */
export async function optOutAll(sandbox: Sandbox, ids: readonly string[]): Promise<void> {
  await patchCollection(sandbox.sf, ids.map((id) => ({ type: 'Contact', id, fields: { HasOptedOutOfEmail: true } })));
}

/** Waits until no queued work is left (dead letters aside). */
export async function queuesEmpty(sandbox: Sandbox, timeoutMs = 40_000): Promise<void> {
  await waitFor(async () => (await sandbox.app!.store.jobs.counts()).every((c) => c.state === 'dead' || c.n === 0), { what: 'queues empty', timeoutMs });
}
