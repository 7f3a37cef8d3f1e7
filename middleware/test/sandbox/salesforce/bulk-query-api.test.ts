// Contract test of the emulator's Bulk API 2.0 query jobs: the documented resource shapes over raw HTTP, jsforce's
// own bulk2 client (written to Salesforce's documents, not to this emulator) reading every row, and the product's
// client paging results by Sforce-Locator.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import jsforce from 'jsforce';
import { z } from 'zod';
import { SalesforceRestClient, parseCsv } from '../../../src/salesforce/salesforce-rest';
import { jwtSession, startHarness, type Harness } from '../../salesforce/emulator-harness';

let harness: Harness;
let token: string;

beforeAll(async () => {
  harness = await startHarness();
  token = harness.emulator.issueToken();
  harness.emulator.seed({
    Contact: Array.from({ length: 25 }, (_, i) => ({ LastName: `Bulk "${i}", Jr`, Email: `bulk${i}@example.com`, HasOptedOutOfEmail: i % 5 === 0 })),
  });
});
afterAll(async () => {
  await harness.emulator.close();
});

const base = () => `${harness.emulator.url}/services/data/v${harness.emulator.apiVersion}`;
const call = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${base()}${path}`, { method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, headers: res.headers, text: await res.text() };
};
const jobSchema = z.object({ id: z.string().regex(/^750/), operation: z.literal('query'), object: z.string(), state: z.string(), contentType: z.literal('CSV'), apiVersion: z.number(), lineEnding: z.literal('LF'), columnDelimiter: z.literal('COMMA') });

describe('Bulk API 2.0 query jobs (emulator)', () => {
  it('when a job is created, then it is UploadComplete, moves to JobComplete, and its results come in sets linked by Sforce-Locator', async () => {
    const created = await call('POST', '/jobs/query', { operation: 'query', query: 'SELECT Id, LastName, Email, HasOptedOutOfEmail FROM Contact WHERE Email LIKE \'bulk%\'' });
    expect(created.status).toBe(200);
    const job = jobSchema.parse(JSON.parse(created.text));
    expect(job.state).toBe('UploadComplete');
    expect(job.object).toBe('Contact');

    // Results before JobComplete are refused.
    expect((await call('GET', `/jobs/query/${job.id}/results`)).status).toBe(400);
    const states: string[] = [];
    for (let i = 0; i < 5 && states.at(-1) !== 'JobComplete'; i++) states.push(jobSchema.parse(JSON.parse((await call('GET', `/jobs/query/${job.id}`)).text)).state);
    expect(states).toEqual(['InProgress', 'JobComplete']);

    const rows: Record<string, string>[] = [];
    let locator: string | null = null;
    let sets = 0;
    do {
      const res = await call('GET', `/jobs/query/${job.id}/results?maxRecords=10${locator === null ? '' : `&locator=${locator}`}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/text\/csv/);
      const set = parseCsv(res.text);
      expect(Number(res.headers.get('sforce-numberofrecords'))).toBe(set.length);
      rows.push(...set);
      sets++;
      const next = res.headers.get('sforce-locator');
      locator = next === 'null' ? null : next;
    } while (locator !== null);
    expect(sets).toBe(3);
    expect(rows).toHaveLength(25);
    expect(rows.find((r) => r.Email === 'bulk3@example.com')).toMatchObject({ LastName: 'Bulk "3", Jr', HasOptedOutOfEmail: 'false' });
    expect(rows.filter((r) => r.HasOptedOutOfEmail === 'true')).toHaveLength(5);
  });

  it('when a request is malformed or names an unknown job, then the documented errors come back', async () => {
    expect((await call('POST', '/jobs/query', { operation: 'insert', query: 'SELECT Id FROM Contact' })).status).toBe(400);
    expect((await call('POST', '/jobs/query', { operation: 'query', query: 'SELECT Nope FROM Contact' })).status).toBe(400);
    expect((await call('GET', '/jobs/query/750000000000000AAA')).status).toBe(404);
  });

  it('when every call counts, then a bulk query costs the org a few API calls, counted in Sforce-Limit-Info', async () => {
    const before = harness.emulator.apiUsage().used;
    const rest = new SalesforceRestClient(jwtSession(harness));
    const seen: Record<string, string>[] = [];
    const total = await rest.bulkQuery('SELECT Id, Email, HasOptedOutOfEmail FROM Contact', (rows) => void seen.push(...rows), { pollMs: 1, maxRecords: 10 });
    expect(total).toBe(seen.length);
    expect(seen.length).toBeGreaterThanOrEqual(25);
    // create + 2 status reads + 3 result sets, plus the session's own calls at most.
    const used = harness.emulator.apiUsage().used - before;
    expect(used).toBeGreaterThanOrEqual(6);
    expect(used).toBeLessThanOrEqual(8);
    expect(rest.apiUsage()?.used).toBe(harness.emulator.apiUsage().used);
  });

  it("when jsforce's own Bulk API 2.0 client queries the emulator, then it reads every row", async () => {
    const conn = new jsforce.Connection({ instanceUrl: harness.emulator.url, accessToken: token, version: harness.emulator.apiVersion });
    conn.bulk2.pollInterval = 10;
    const records = await conn.bulk2.query("SELECT Id, Email FROM Contact WHERE Email LIKE 'bulk%'");
    const list: unknown[] = [];
    for await (const record of records) list.push(record);
    expect(list).toHaveLength(25);
  });
});
