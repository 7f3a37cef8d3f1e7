// Write-ahead for the single-path opt-out. Each POST that sets a list to 2 is noted (list and previous status)
// before it is sent. If the process dies after AC applied the POST but before the job's transaction committed
// (SIGKILL, power loss), the retry's fresh read finds the list already at 2 and sends nothing; the note is what
// tells it that this product made that change, so the audit (R8) and the lists R2 may undo are still recorded.
// The bulk path notes every contact of an import the same way before sending it: an import whose outcome never
// comes back (status checks through an outage, a crash, a refused round after earlier batches went out) leaves
// the lists at 2 for the retry's read, and the note is what lets it record them as ours.
import { z } from 'zod';
import type { Store, SqlExecutor } from '../store';
import type { ActiveCampaignClient } from '../activecampaign/activecampaign-client';

const intentSchema = z.object({ contactId: z.string(), lists: z.array(z.object({ listId: z.string(), previousStatus: z.number() })) });
export type UnsubscribeIntent = z.infer<typeof intentSchema>;

type Client = Pick<ActiveCampaignClient, 'findContactWithListsByEmail' | 'setListStatus'>;

const keyFor = (email: string) => `unsubscribe-intent:${email.toLowerCase()}`;

export class UnsubscribeIntents {
  constructor(private readonly store: Pick<Store, 'kv'>) {}

  /** The note an interrupted attempt left for this email, if any. */
  load(email: string): Promise<UnsubscribeIntent | null> {
    return this.store.kv.get(keyFor(email), intentSchema);
  }

  /** A client that notes every list status change before sending it. */
  recording(client: Client, email: string, earlier: UnsubscribeIntent | null): Client {
    let statuses = new Map<string, number>();
    let noted: UnsubscribeIntent | null = earlier;
    return {
      findContactWithListsByEmail: async (e) => {
        const found = await client.findContactWithListsByEmail(e);
        statuses = new Map((found?.lists ?? []).map((l) => [l.listId, l.status]));
        return found;
      },
      setListStatus: async (contactId, listId, status) => {
        const kept = noted !== null && noted.contactId === contactId ? noted.lists.filter((l) => l.listId !== listId) : [];
        noted = { contactId, lists: [...kept, { listId, previousStatus: statuses.get(listId) ?? 1 }] };
        await this.store.kv.set(keyFor(email), noted);
        return client.setListStatus(contactId, listId, status);
      },
    };
  }

  /** Notes, in one write, the lists an import is about to set to 2 for each contact (replacing earlier notes). */
  async noteImport(contacts: { email: string; contactId: string; lists: { listId: string; previousStatus: number }[] }[], tx?: SqlExecutor): Promise<void> {
    const entries = contacts.filter((c) => c.lists.length > 0).map((c) => ({ key: keyFor(c.email), value: { contactId: c.contactId, lists: c.lists } satisfies UnsubscribeIntent }));
    if (entries.length > 0) await this.store.kv.setMany(entries, tx);
  }

  /** Drops the notes of these emails (their outcome is recorded). */
  async clear(emails: string[], tx?: SqlExecutor): Promise<void> {
    if (emails.length > 0) await this.store.kv.delete(emails.map(keyFor), tx);
  }

  /** Lists found already at 2 that an interrupted attempt of ours had set: they count as changed by us. */
  static recovered(earlier: UnsubscribeIntent | null, contactId: string, alreadyUnsubscribed: string[]): UnsubscribeIntent['lists'] {
    if (earlier === null || earlier.contactId !== contactId) return [];
    return earlier.lists.filter((l) => alreadyUnsubscribed.includes(l.listId));
  }

  /** Keeps only the notes of lists not yet recorded (all of them recorded: the note goes). */
  async settle(email: string, recordedListIds: string[] | 'all', tx?: SqlExecutor): Promise<void> {
    const current = recordedListIds === 'all' ? null : await this.store.kv.get(keyFor(email), intentSchema, tx);
    const left = current === null ? [] : current.lists.filter((l) => !recordedListIds.includes(l.listId));
    if (current === null || left.length === 0) await this.store.kv.delete([keyFor(email)], tx);
    else await this.store.kv.set(keyFor(email), { ...current, lists: left }, tx);
  }
}
