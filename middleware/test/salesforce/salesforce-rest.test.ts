import { z } from 'zod';
import { SalesforceRestClient } from '../../src/salesforce/salesforce-rest';
import { SalesforceSession } from '../../src/salesforce/salesforce-auth';
import { SalesforceSessionExpiredError } from '../../src/salesforce/salesforce-errors';
import { apiVersion, jwtSession, productClientId, startHarness, type Harness } from './emulator-harness';

const contactSchema = z.object({ Id: z.string(), Email: z.string().nullable(), HasOptedOutOfEmail: z.boolean() });
const headerSchema = z.object({ recordIds: z.array(z.string()), changeOrigin: z.string() });

let harness: Harness;

beforeAll(async () => {
  harness = await startHarness({ queryBatchSize: 2 });
});

afterAll(async () => {
  await harness.emulator.close();
});

function insertContacts(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) =>
    String(harness.emulator.insert('Contact', { LastName: `${prefix}${i}`, Email: `${prefix}${i}@example.com` }).Id),
  );
}

/** changeOrigin of the latest retained CDC event for a record (what a subscriber would see). */
function changeOriginOf(recordId: string): string | undefined {
  const origins = harness.emulator
    .retainedEvents('/data/OptOutSync__chn')
    .map((message) =>
      headerSchema.safeParse(
        (message.data as { payload?: { ChangeEventHeader?: unknown } }).payload?.ChangeEventHeader,
      ),
    )
    .filter((parsed) => parsed.success && parsed.data.recordIds.includes(recordId))
    .map((parsed) => parsed.data?.changeOrigin);
  return origins.at(-1);
}

describe('SalesforceRestClient against the emulator', () => {
  test('when a query spans several pages, then every page is followed through nextRecordsUrl', async () => {
    const ids = insertContacts('paged', 5);
    const rest = new SalesforceRestClient(jwtSession(harness));
    const rows = await rest.query(
      `SELECT Id, Email, HasOptedOutOfEmail FROM Contact WHERE LastName LIKE 'paged%'`,
      contactSchema,
    );
    expect(rows.map((row) => row.Id).sort()).toEqual([...ids].sort());
    expect(harness.emulator.requestLog.some((entry) => /\/query\/[^?]+-\d+$/.test(entry.path))).toBe(true);
  });

  test('when records are looked up by email, then casing does not matter and quotes are escaped', async () => {
    const id = String(
      harness.emulator.insert('Lead', { LastName: "O'Brien", Company: 'Acme', Email: "O'Brien@Example.com" }).Id,
    );
    const rest = new SalesforceRestClient(jwtSession(harness));
    const rows = await rest.findRecordsByEmails(
      'Lead',
      ["o'brien@example.com", 'nobody@example.com'],
      ['HasOptedOutOfEmail'],
      contactSchema,
    );
    expect(rows.map((row) => row.Id)).toEqual([id]);
  });

  test('when records are updated through sObject Collections, then each gets its own result and CDC shows the product client id', async () => {
    const [good, bad] = insertContacts('collections', 2) as [string, string];
    harness.emulator.failNextWrites(bad, 'UNABLE_TO_LOCK_ROW');
    const rest = new SalesforceRestClient(jwtSession(harness));
    const results = await rest.updateRecords('Contact', [
      { Id: good, HasOptedOutOfEmail: true },
      { Id: bad, HasOptedOutOfEmail: true },
    ]);
    expect(results[0]).toMatchObject({ id: good, success: true, errors: [] });
    expect(results[1]).toMatchObject({ success: false, errors: [{ statusCode: 'UNABLE_TO_LOCK_ROW' }] });
    expect(harness.emulator.get('Contact', good)?.HasOptedOutOfEmail).toBe(true);
    expect(changeOriginOf(good)).toBe(`com/salesforce/api/rest/${apiVersion};client=${productClientId}`);
  });

  test('when more than 200 records are updated, then they go in calls of at most 200 and results keep input order', async () => {
    const ids = insertContacts('bulk', 201);
    const rest = new SalesforceRestClient(jwtSession(harness));
    const before = harness.emulator.requestLog.filter((entry) => entry.path.endsWith('/composite/sobjects')).length;
    const results = await rest.updateRecords(
      'Contact',
      ids.map((Id) => ({ Id, HasOptedOutOfEmail: true })),
    );
    expect(results.map((result) => result.id)).toEqual(ids);
    expect(
      harness.emulator.requestLog.filter((entry) => entry.path.endsWith('/composite/sobjects')).length - before,
    ).toBe(2);
  });

  test('when the token was revoked, then the call re-authenticates once and succeeds', async () => {
    const session = jwtSession(harness);
    const rest = new SalesforceRestClient(session);
    await session.token();
    harness.emulator.revokeAllTokens();
    const fields = await rest.describeFieldNames('Contact');
    expect(fields.has('HasOptedOutOfEmail')).toBe(true);
    expect(fields.has('AC_Contact_Id__c')).toBe(true);
    expect(session.refreshes()).toBe(2);
  });

  test('when even the fresh token is rejected, then SalesforceSessionExpiredError is thrown after one retry', async () => {
    const shortLived = await startHarness({ tokenTtlMs: 0 });
    try {
      const session = jwtSession(shortLived);
      const rest = new SalesforceRestClient(session);
      await expect(rest.getLimits()).rejects.toBeInstanceOf(SalesforceSessionExpiredError);
      expect(session.refreshes()).toBe(2);
    } finally {
      await shortLived.emulator.close();
    }
  });

  test('when limits and recent changes are asked for, then both parse', async () => {
    const since = new Date(Date.now() - 60_000);
    const [id] = insertContacts('recent', 1) as [string];
    const rest = new SalesforceRestClient(jwtSession(harness));
    expect((await rest.getLimits()).DailyApiRequests?.Max).toBeGreaterThan(0);
    const changed = await rest.queryChangedSince(
      'Contact',
      since,
      ['Email', 'HasOptedOutOfEmail'],
      contactSchema.loose(),
    );
    expect(changed.map((row) => row.Id)).toContain(id);
  });

  test('when jsforce is used through the session, then it also sends Sforce-Call-Options (visible in changeOrigin)', async () => {
    const [id] = insertContacts('jsforce', 1) as [string];
    const conn = await jwtSession(harness).createConnection();
    await conn.sobject('Contact').update([{ Id: id, HasOptedOutOfEmail: true }], { allOrNone: false });
    expect(changeOriginOf(id)).toBe(`com/salesforce/api/rest/${apiVersion};client=${productClientId}`);
  });
});

describe('SalesforceSession', () => {
  test('when the session is built, then the api version loses a leading v', () => {
    const session = new SalesforceSession({
      auth: { kind: 'client-credentials', loginUrl: 'http://127.0.0.1:1', clientId: 'x', clientSecret: 'y' },
      apiVersion: 'v62.0',
      productClientId,
    });
    expect(session.apiVersion).toBe('62.0');
  });
});
