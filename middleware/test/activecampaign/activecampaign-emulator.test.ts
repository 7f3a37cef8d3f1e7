// The AC client and the opt-out actions against the AC emulator over real HTTP. The emulator follows AC's
// documents independently of this code (it imports nothing from src outside sandbox), so agreement here means
// both read the vendor the same way.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ActiveCampaignClient } from '../../src/activecampaign/activecampaign-client';
import {
  AcError,
  AcRateLimitedError,
  AcResponseShapeError,
  AcServerError,
  AcTimeoutError,
} from '../../src/activecampaign/activecampaign-errors';
import { TokenBucket } from '../../src/activecampaign/rate-limiter';
import { resubscribeLists } from '../../src/activecampaign/resubscribe-lists';
import { unsubscribeFromAllLists } from '../../src/activecampaign/unsubscribe-from-all-lists';
import { startActiveCampaignEmulator, type ActiveCampaignEmulator } from '../../src/sandbox/activecampaign';

const apiToken = 'emulator-key-7d2b1f-secret';
let emulator: ActiveCampaignEmulator;
let client: ActiveCampaignClient;
// One budget for the file, like one process: the emulator's account limit is shared by every test here.
const budget = new TokenBucket();

beforeAll(async () => {
  emulator = await startActiveCampaignEmulator({
    apiToken,
    importProcessingMs: 100,
    importStatusUnsetMs: 50,
  });
  client = new ActiveCampaignClient({
    apiUrl: emulator.url,
    apiToken,
    rateLimiter: budget,
    timeoutMs: 2000,
  });
});

afterAll(async () => {
  await emulator.close();
});

let serial = 0;
function uniqueEmail(label: string): string {
  serial += 1;
  return `${label}.${serial}.${Date.now()}@example.com`;
}

function postsSince(mark: number): number {
  return emulator.requestLog.slice(mark).filter((r) => r.method === 'POST').length;
}

async function failureOf(promise: Promise<unknown>): Promise<AcError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AcError) {
      expect(error.message).not.toContain(apiToken);
      return error;
    }
    throw error;
  }
  throw new Error('expected the call to fail');
}

describe('unsubscribeFromAllLists against the emulator', () => {
  it('when the opt-out reaches AC after the person subscribed to a list again, then that list stays active (newest wins) and the others are unsubscribed', async () => {
    // Found by the chaos run under load: an opt-out retried through an outage unsubscribed a list the person had
    // joined after opting out.
    const [older, newer] = [emulator.createList('Older'), emulator.createList('Newer')];
    const email = uniqueEmail('joined.after');
    emulator.createContact(email, { lists: { [older.id]: 1 } });
    // AC stamps whole seconds: each step in a later second.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const optedOutAt = new Date();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    emulator.subscribe(email, newer.id);

    const result = await unsubscribeFromAllLists(client, email, undefined, optedOutAt);

    expect(result).toMatchObject({ kind: 'unsubscribed', changed: [{ listId: older.id, previousStatus: 1 }], joinedAfter: [newer.id] });
    expect(emulator.contactByEmail(email)?.lists).toEqual({ [older.id]: 2, [newer.id]: 1 });
  });

  it('when the contact is on 3 lists, one already unsubscribed, then all end at status 2 and previous statuses come back', async () => {
    const [a, b, c] = [emulator.createList('Newsletter'), emulator.createList('Offers'), emulator.createList('Events')];
    const email = uniqueEmail('three.lists');
    const created = emulator.createContact(email, {
      lists: { [a.id]: 1, [b.id]: 1, [c.id]: 2 },
    });

    const result = await unsubscribeFromAllLists(client, email.toUpperCase());

    expect(result).toEqual({
      kind: 'unsubscribed',
      contactId: created.id,
      changed: [
        { listId: a.id, previousStatus: 1 },
        { listId: b.id, previousStatus: 1 },
      ],
      alreadyUnsubscribed: [c.id],
      leftBounced: [],
      joinedAfter: [],
      contactEmail: email,
      hardBounced: false,
      // AC's state after the call, for the reverse path's snapshot: the moved lists at 2, their new udate unknown.
      membershipsAfter: [
        { listId: a.id, status: 2, sdate: expect.any(String), udate: null },
        { listId: b.id, status: 2, sdate: expect.any(String), udate: null },
        { listId: c.id, status: 2, sdate: null, udate: expect.any(String) },
      ],
    });
    expect(emulator.contactByEmail(email)?.lists).toEqual({
      [a.id]: 2,
      [b.id]: 2,
      [c.id]: 2,
    });
  });

  it('when it runs a second time, then nothing changes and no POST is sent', async () => {
    const list = emulator.createList('Second run');
    const email = uniqueEmail('twice');
    emulator.createContact(email, { lists: { [list.id]: 1 } });
    await unsubscribeFromAllLists(client, email);

    const mark = emulator.requestLog.length;
    const again = await unsubscribeFromAllLists(client, email);

    expect(again).toMatchObject({
      kind: 'unsubscribed',
      changed: [],
      alreadyUnsubscribed: [list.id],
    });
    expect(postsSince(mark)).toBe(0);
    // One read, no more: the lookup sideloads the memberships.
    expect(emulator.requestLog.length - mark).toBe(1);
  });

  it('when a membership is unconfirmed (0), then it is set to 2 too', async () => {
    const list = emulator.createList('Double opt-in');
    const email = uniqueEmail('unconfirmed');
    emulator.createContact(email, { lists: { [list.id]: 0 } });
    const result = await unsubscribeFromAllLists(client, email);
    expect(result).toMatchObject({
      changed: [{ listId: list.id, previousStatus: 0 }],
    });
    expect(emulator.contactByEmail(email)?.lists[list.id]).toBe(2);
  });

  it('when AC has no contact with that email, then the result is not-in-ac and nothing is written', async () => {
    const mark = emulator.requestLog.length;
    expect(await unsubscribeFromAllLists(client, uniqueEmail('nobody'))).toEqual({ kind: 'not-in-ac' });
    expect(postsSince(mark)).toBe(0);
  });
});

describe('resubscribeLists against the emulator', () => {
  it('when the contact is not bounced, then only the given lists go back to 1', async () => {
    const [a, b] = [emulator.createList('Resub A'), emulator.createList('Resub B')];
    const email = uniqueEmail('resub');
    emulator.createContact(email, { lists: { [a.id]: 2, [b.id]: 2 } });
    const result = await resubscribeLists(client, { email, listIds: [a.id] });
    expect(result).toMatchObject({
      kind: 'resubscribed',
      changed: [{ listId: a.id, previousStatus: 2 }],
    });
    expect(emulator.contactByEmail(email)?.lists).toEqual({
      [a.id]: 1,
      [b.id]: 2,
    });
  });

  it('when the contact hard-bounced, then nothing is re-subscribed', async () => {
    const list = emulator.createList('Resub bounced');
    const email = uniqueEmail('bounced');
    emulator.createContact(email, { lists: { [list.id]: 2 } });
    emulator.hardBounce(email);
    const mark = emulator.requestLog.length;
    const result = await resubscribeLists(client, {
      email,
      listIds: [list.id],
    });
    expect(result).toMatchObject({ kind: 'refused-bounced' });
    expect(postsSince(mark)).toBe(0);
  });
});

describe('ActiveCampaignClient errors against the emulator', () => {
  it('when the emulator answers 429 with Retry-After, then AcRateLimitedError carries it in ms', async () => {
    // Its own budget: the pause it triggers must not slow the other tests.
    const own = new ActiveCampaignClient({
      apiUrl: emulator.url,
      apiToken,
      rateLimiter: new TokenBucket(),
      timeoutMs: 2000,
    });
    emulator.setFault({
      status: 429,
      retryAfterSeconds: 3,
      count: 1,
      pathPrefix: '/lists',
    });
    const error = await failureOf(own.listLists());
    expect(error).toBeInstanceOf(AcRateLimitedError);
    expect((error as AcRateLimitedError).retryAfterMs).toBe(3000);
  });

  it('when the emulator answers 500 or 503, then 500 is a server error and 503 is throttling', async () => {
    const own = new ActiveCampaignClient({
      apiUrl: emulator.url,
      apiToken,
      rateLimiter: new TokenBucket(),
      timeoutMs: 2000,
    });
    emulator.setFault({ status: 500, count: 1, pathPrefix: '/lists' });
    expect(await failureOf(own.listLists())).toBeInstanceOf(AcServerError);
    emulator.setFault({ status: 503, count: 1, pathPrefix: '/lists' });
    expect(await failureOf(own.listLists())).toBeInstanceOf(AcRateLimitedError);
  });

  it('when the emulator sends garbage, then every kind of it is an AcResponseShapeError', async () => {
    const email = uniqueEmail('garbage');
    emulator.createContact(email);
    const messages: string[] = [];
    for (let i = 0; i < 6; i += 1) {
      emulator.setFault({ garbage: true, count: 1, pathPrefix: '/contacts' });
      const error = await failureOf(client.findContactByEmail(email));
      expect(error).toBeInstanceOf(AcResponseShapeError);
      messages.push(error.message);
    }
    // The well-formed-but-wrong body names the field that failed.
    expect(messages.some((m) => m.includes('contacts: '))).toBe(true);
    expect(messages.every((m) => !m.includes(email))).toBe(true);
  });

  it('when the emulator hangs, then AcTimeoutError', async () => {
    emulator.setFault({ hang: true, count: 1, pathPrefix: '/lists' });
    const quick = new ActiveCampaignClient({
      apiUrl: emulator.apiUrl,
      apiToken,
      rateLimiter: budget,
      timeoutMs: 200,
    });
    expect(await failureOf(quick.listLists())).toBeInstanceOf(AcTimeoutError);
  });

  it('when the token is wrong, then the 403 is a client error whose message does not carry the token', async () => {
    const wrong = 'wrong-token-should-not-appear';
    const bad = new ActiveCampaignClient({
      apiUrl: emulator.url,
      apiToken: wrong,
      rateLimiter: budget,
      timeoutMs: 2000,
    });
    const error = await failureOf(bad.listLists());
    expect(error.message).toContain('HTTP 403');
    expect(error.message).not.toContain(wrong);
  });
});

describe('ActiveCampaignClient reads and setup against the emulator', () => {
  it('when paging contacts updated since a moment with id_greater, then every changed contact comes once with its lists', async () => {
    const list = emulator.createList('Paging');
    const since = new Date(Date.now() - 1000);
    const emails = Array.from({ length: 5 }, () => uniqueEmail('page'));
    for (const email of emails) emulator.createContact(email, { lists: { [list.id]: 1 } });
    emulator.unsubscribe(emails[2] ?? '', list.id);

    const seen: Array<{ email: string; status: number | undefined }> = [];
    let afterId: string | undefined;
    for (let pages = 0; pages < 50; pages += 1) {
      const page = await client.listContactsUpdatedSince({
        updatedAfter: since,
        afterId,
        limit: 2,
      });
      for (const c of page.contacts) {
        seen.push({
          email: c.contact.email,
          status: c.lists.find((l) => l.listId === list.id)?.status,
        });
      }
      if (page.nextAfterId === null) break;
      afterId = page.nextAfterId;
    }
    const mine = seen.filter((s) => emails.includes(s.email));
    expect(mine.map((s) => s.email)).toEqual(emails);
    expect(mine.map((s) => s.status)).toEqual([1, 1, 2, 1, 1]);
  });

  it('when ensureWebhook runs twice, then the hook is created once', async () => {
    const spec = {
      name: 'optout-sync',
      url: 'https://hooks.example.com/ac/s3cr3t-path',
      events: ['unsubscribe', 'subscribe', 'bounce'],
      sources: ['public', 'admin', 'api', 'system'],
    };
    const first = await client.ensureWebhook(spec);
    const second = await client.ensureWebhook(spec);
    expect(first.action).toBe('created');
    expect(second).toEqual({ webhook: first.webhook, action: 'unchanged' });
    const third = await client.ensureWebhook({
      ...spec,
      events: ['unsubscribe'],
    });
    expect(third.action).toBe('updated');
    expect(third.webhook.events).toEqual(['unsubscribe']);
  });

  it('when a contact carries a tag, then contactHasTag finds it case-insensitively, and not for others', async () => {
    const tagged = emulator.createContact(uniqueEmail('tagged'));
    const other = emulator.createContact(uniqueEmail('untagged'));
    const headers = {
      'Api-Token': apiToken,
      'Content-Type': 'application/json',
    };
    // Setup calls share the account's 5 requests/s too: through the same budget.
    await budget.acquire();
    const tagAnswer = await fetch(`${emulator.apiUrl}/tags`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        tag: { tag: 'OptOut-Sync', tagType: 'contact', description: '' },
      }),
    });
    const tagBody = (await tagAnswer.json()) as { tag: { id: string } };
    await budget.acquire();
    await fetch(`${emulator.apiUrl}/contactTags`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        contactTag: { contact: tagged.id, tag: tagBody.tag.id },
      }),
    });

    expect(await client.findTag('optout-sync')).toMatchObject({
      id: tagBody.tag.id,
      name: 'OptOut-Sync',
    });
    expect(await client.contactHasTag(tagged.id, 'optout-sync')).toBe(true);
    expect(await client.contactHasTag(other.id, 'optout-sync')).toBe(false);
    expect(await client.contactHasTag(tagged.id, 'no-such-tag')).toBe(false);
  });

  it('when reading a contact by id, then its lists come sideloaded', async () => {
    const list = emulator.createList('By id');
    const created = emulator.createContact(uniqueEmail('byid'), {
      lists: { [list.id]: 1 },
    });
    const read = await client.getContactWithLists(created.id);
    expect(read.contact.id).toBe(created.id);
    expect(read.lists).toEqual([expect.objectContaining({ listId: list.id, status: 1 })]);
    expect(await client.listContactLists(created.id)).toEqual(read.lists);
    expect((await client.listLists()).map((l) => l.id)).toContain(list.id);
  });
});
