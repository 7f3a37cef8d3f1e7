// When this product unsubscribes an email in AC because of a Salesforce opt-out (R1), AC then shows the contact
// unsubscribed from all lists, and R3 opts out the email's other records. In the rules' order that R3 happened
// when the Salesforce opt-out was made, not when a worker got round to it: a record opted in after that moment keeps
// its newer opt-in. The cause is written before the AC calls (so the webhook they trigger finds it) and consumed by
// the first R3 that uses it.
import { z } from 'zod';
import type { Store, SqlExecutor } from '../store';

const keyOf = (email: string) => `r1-cause:${email.toLowerCase()}`;

export async function recordOptOutCauses(store: Store, causes: { email: string; at: string }[], tx?: SqlExecutor): Promise<void> {
  await store.kv.setMany(causes.map((cause) => ({ key: keyOf(cause.email), value: cause.at })), tx);
}

export async function dropOptOutCauses(store: Store, emails: string[], tx?: SqlExecutor): Promise<void> {
  await store.kv.delete(emails.map(keyOf), tx);
}

/** Takes (reads and deletes) the causes of these emails. */
export async function takeOptOutCauses(store: Store, emails: string[], tx: SqlExecutor): Promise<Map<string, Date>> {
  const found = await store.kv.getMany(emails.map(keyOf), z.iso.datetime(), tx);
  await store.kv.delete([...found.keys()], tx);
  return new Map([...found.entries()].map(([key, at]) => [key.slice('r1-cause:'.length), new Date(at)]));
}
