// Client behaviour that needs exact control of the answer (a field with the wrong type, a given header): a
// scripted HTTP server on 127.0.0.1. The end-to-end behaviour runs against the AC emulator in
// activecampaign-emulator.test.ts.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ActiveCampaignClient, type AcRequestInfo } from '../../src/activecampaign/activecampaign-client';
import {
  AcClientError,
  AcError,
  AcNetworkError,
  AcNotFoundError,
  AcRateLimitedError,
  AcResponseShapeError,
  AcServerError,
  AcTimeoutError,
} from '../../src/activecampaign/activecampaign-errors';
import type { RequestBudget } from '../../src/activecampaign/rate-limiter';

const token = 'tok-4f1e9c-do-not-leak';

interface Seen {
  method: string;
  url: string;
  apiToken: string | undefined;
  body: string;
}

type Answer = { status: number; body: string; headers?: Record<string, string> } | 'hang';

let server: http.Server;
let baseUrl: string;
let answer: Answer = { status: 200, body: '{}' };
/** 200 bodies answered first, in order, before `answer`. */
let queued: string[] = [];
const seen: Seen[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const apiToken = req.headers['api-token'];
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        apiToken: typeof apiToken === 'string' ? apiToken : undefined,
        body,
      });
      const next = queued.shift();
      if (next !== undefined) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(next);
        return;
      }
      if (answer === 'hang') return;
      res.writeHead(answer.status, {
        'content-type': 'application/json',
        ...answer.headers,
      });
      res.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

class CountingBudget implements RequestBudget {
  acquired = 0;
  pauses: number[] = [];
  async acquire(): Promise<void> {
    this.acquired += 1;
  }
  pauseFor(ms: number): void {
    this.pauses.push(ms);
  }
}

function makeClient(
  budget: RequestBudget = new CountingBudget(),
  extra: { timeoutMs?: number; onRequest?: (i: AcRequestInfo) => void } = {},
) {
  return new ActiveCampaignClient({
    apiUrl: baseUrl,
    apiToken: token,
    rateLimiter: budget,
    timeoutMs: extra.timeoutMs ?? 2000,
    onRequest: extra.onRequest,
  });
}

async function failureOf(promise: Promise<unknown>): Promise<AcError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AcError) {
      expect(error.message).not.toContain(token);
      expect(String(error.stack)).not.toContain(token);
      return error;
    }
    throw error;
  }
  throw new Error('expected the call to fail');
}

const contactJson = (id: string, email: string) => ({
  id,
  email,
  bounced_hard: '0',
  bounced_soft: '0',
  bounced_date: null,
  udate: '2026-05-28T05:07:18-05:00',
});

describe('ActiveCampaignClient over HTTP (scripted answers)', () => {
  it('when looking up an email, then it sends Api-Token, asks /api/3/contacts?email=, and goes through the budget', async () => {
    const budget = new CountingBudget();
    answer = {
      status: 200,
      body: JSON.stringify({
        contacts: [contactJson('7', 'Ann@Example.com')],
        meta: { total: '1' },
      }),
    };
    const contact = await makeClient(budget).findContactByEmail('ann@example.com');
    expect(contact).toMatchObject({
      id: '7',
      email: 'Ann@Example.com',
      bouncedHard: 0,
    });
    const last = seen[seen.length - 1];
    expect(last?.apiToken).toBe(token);
    expect(last?.url).toBe('/api/3/contacts?email=ann%40example.com');
    expect(budget.acquired).toBe(1);
  });

  it('when AC returns a contact with another email (field report: Pipedream #4612), then the lookup says not found', async () => {
    answer = {
      status: 200,
      body: JSON.stringify({
        contacts: [contactJson('1', 'someone.else@example.com')],
        meta: { total: '1' },
      }),
    };
    expect(await makeClient().findContactByEmail('made-up@example.com')).toBeNull();
  });

  it('when AC ignores include=contactLists, then the memberships are read with a second call instead of assumed empty', async () => {
    const bodies = [
      JSON.stringify({ contacts: [contactJson('7', 'x@example.com')], meta: { total: '1' } }),
      JSON.stringify({ contactLists: [{ contact: '7', list: '3', status: '1', sdate: null, udate: null }] }),
    ];
    const before = seen.length;
    queued = bodies;
    const found = await makeClient().findContactWithListsByEmail('x@example.com');
    expect(found?.lists).toEqual([{ contactId: '7', listId: '3', status: 1, sdate: null, udate: null }]);
    expect(seen.slice(before).map((s) => s.url.split('?')[0])).toEqual([
      '/api/3/contacts',
      '/api/3/contacts/7/contactLists',
    ]);
  });

  it('when a field has the wrong type, then AcResponseShapeError names the field path', async () => {
    answer = {
      status: 200,
      body: JSON.stringify({
        contacts: [{ ...contactJson('7', 'a@b.co'), bounced_hard: 'lots' }],
      }),
    };
    const error = await failureOf(makeClient().findContactByEmail('a@b.co'));
    expect(error).toBeInstanceOf(AcResponseShapeError);
    expect(error.message).toContain('contacts[0].bounced_hard');
    expect(error.message).toContain('GET /contacts?email');
    expect(error.message).not.toContain('a@b.co');
  });

  it('when the body is not JSON, then AcResponseShapeError says so', async () => {
    answer = { status: 200, body: '<html>oops</html>' };
    const error = await failureOf(makeClient().listContactLists('7'));
    expect(error).toBeInstanceOf(AcResponseShapeError);
    expect((error as AcResponseShapeError).issues).toEqual(['body: not JSON']);
  });

  it('when AC answers 429 with Retry-After, then AcRateLimitedError carries it and the shared budget pauses', async () => {
    const budget = new CountingBudget();
    const reports: AcRequestInfo[] = [];
    answer = { status: 429, body: '', headers: { 'retry-after': '30' } };
    const error = await failureOf(
      makeClient(budget, {
        onRequest: (i) => reports.push(i),
      }).listContactLists('7'),
    );
    expect(error).toBeInstanceOf(AcRateLimitedError);
    expect((error as AcRateLimitedError).retryAfterMs).toBe(30_000);
    expect((error as AcRateLimitedError).scope).toBe('account');
    expect(budget.pauses).toEqual([30_000]);
    expect(reports).toEqual([
      expect.objectContaining({
        route: '/contacts/{id}/contactLists',
        status: 429,
        outcome: 'rate-limited',
      }),
    ]);
  });

  it('when the import endpoint answers 400 "Rate limit exceeded.", then it is a bulk-import throttle that leaves the account budget alone', async () => {
    const budget = new CountingBudget();
    answer = {
      status: 400,
      body: JSON.stringify({
        success: 0,
        message: 'Rate limit exceeded.',
        failureReasons: ['Up to 100 imports may be requested per minute.'],
      }),
    };
    const error = await failureOf(makeClient(budget).bulkImportUnsubscribe([{ email: 'a@b.co', listIds: ['1'] }]));
    expect(error).toBeInstanceOf(AcRateLimitedError);
    expect((error as AcRateLimitedError).scope).toBe('bulk-import');
    expect((error as AcRateLimitedError).retryAfterMs).toBe(60_000);
    expect(budget.pauses).toEqual([]);
  });

  it('when a bulk import holds an invalid email, then nothing is sent (AC would reject the whole batch)', async () => {
    const before = seen.length;
    const error = await failureOf(
      makeClient().bulkImportUnsubscribe([
        { email: 'ok@example.com', listIds: ['1'] },
        { email: 'broken@', listIds: ['1'] },
      ]),
    );
    expect(error.message).toContain('position(s) 1');
    expect(seen.length).toBe(before);
  });

  it("when AC answers 404 or 422, then the errors are client errors with AC's message, 404 as AcNotFoundError", async () => {
    answer = {
      status: 404,
      body: JSON.stringify({
        message: 'No Result found for Subscriber with id 9',
      }),
    };
    const notFound = await failureOf(makeClient().getContactWithLists('9'));
    expect(notFound).toBeInstanceOf(AcNotFoundError);
    expect(notFound.message).toContain('No Result found for Subscriber with id 9');
    answer = {
      status: 422,
      body: JSON.stringify({
        errors: [{ status: 422, title: 'Missing attribute' }],
      }),
    };
    const invalid = await failureOf(makeClient().setListStatus('9', '1', 2));
    expect(invalid).toBeInstanceOf(AcClientError);
    expect((invalid as AcClientError).status).toBe(422);
  });

  it('when AC answers 500/502, then AcServerError; 503 counts as throttling', async () => {
    answer = { status: 502, body: 'bad gateway' };
    expect(await failureOf(makeClient().listLists())).toBeInstanceOf(AcServerError);
    answer = { status: 503, body: '' };
    const throttled = await failureOf(makeClient().listLists());
    expect(throttled).toBeInstanceOf(AcRateLimitedError);
    expect((throttled as AcRateLimitedError).retryAfterMs).toBe(1000);
  });

  it('when AC does not answer in time, then AcTimeoutError', async () => {
    answer = 'hang';
    expect(await failureOf(makeClient(undefined, { timeoutMs: 150 }).listLists())).toBeInstanceOf(AcTimeoutError);
  });

  it('when nothing listens, then AcNetworkError', async () => {
    const client = new ActiveCampaignClient({
      apiUrl: 'http://127.0.0.1:1',
      apiToken: token,
      rateLimiter: new CountingBudget(),
      timeoutMs: 2000,
    });
    expect(await failureOf(client.listLists())).toBeInstanceOf(AcNetworkError);
  });

  it('when paging updated contacts, then it asks include=contactLists, orders[id]=ASC, id_greater and groups memberships', async () => {
    answer = {
      status: 200,
      body: JSON.stringify({
        contacts: [contactJson('11', 'a@example.com'), contactJson('12', 'b@example.com')],
        contactLists: [
          {
            contact: '11',
            list: '1',
            status: '2',
            sdate: null,
            udate: '2026-05-28T05:07:18-05:00',
          },
          {
            contact: '12',
            list: '1',
            status: '1',
            sdate: '2026-05-28T05:07:18-05:00',
            udate: null,
          },
        ],
        meta: { total: '40' },
      }),
    };
    const page = await makeClient().listContactsUpdatedSince({
      updatedAfter: new Date('2026-05-28T00:00:00Z'),
      afterId: '10',
      limit: 2,
    });
    const url = new URL(seen[seen.length - 1]?.url ?? '', baseUrl);
    expect(Object.fromEntries(url.searchParams)).toEqual({
      'filters[updated_after]': '2026-05-28T00:00:00.000Z',
      include: 'contactLists',
      'orders[id]': 'ASC',
      id_greater: '10',
      limit: '2',
    });
    expect(page.nextAfterId).toBe('12');
    expect(page.contacts.map((c) => [c.contact.id, c.lists.map((l) => l.status)])).toEqual([
      ['11', [2]],
      ['12', [1]],
    ]);
  });
});
