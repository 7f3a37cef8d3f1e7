// The product's Salesforce client against what a real org does: slow answers, expired sessions, the daily API
// limit, and the failure classes callers branch on.
import { z } from 'zod';
import { SalesforceRestClient } from '../../src/salesforce/salesforce-rest';
import {
  SalesforceApiError,
  SalesforceAuthError,
  SalesforceNetworkError,
  SalesforceSessionExpiredError,
  SalesforceTimeoutError,
  redactSalesforceMessage,
  emailParts,
  saveErrorClass,
  salesforceFailureClass,
} from '../../src/salesforce/salesforce-errors';
import { SalesforceSession } from '../../src/salesforce/salesforce-auth';
import { salesforcePermissionFindings } from '../../src/salesforce/salesforce-permissions';
import { systemClock } from '../../src/salesforce/logger-and-clock';
import { jwtSession, startHarness, type Harness } from './emulator-harness';

const idSchema = z.object({ Id: z.string() });

let harness: Harness;

beforeAll(async () => {
  harness = await startHarness();
});

afterAll(async () => {
  await harness.emulator.close();
});

describe('Salesforce failures, classified', () => {
  test('when Salesforce answers slower than the timeout, then the call fails as a transient timeout naming no query', async () => {
    harness.emulator.setLatency(400);
    try {
      const rest = new SalesforceRestClient(jwtSession(harness), { timeoutMs: 100 });
      const error = await rest.query(`SELECT Id FROM Contact WHERE Email = 'secret@example.com'`, idSchema).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SalesforceTimeoutError);
      expect(salesforceFailureClass(error)).toBe('transient');
      expect(String((error as Error).message)).not.toContain('secret@example.com');
    } finally {
      harness.emulator.setLatency(0);
    }
  });

  test('when the token endpoint answers slower than the timeout, then the token request fails as a transient auth error', async () => {
    harness.emulator.beforeNextRequest(({ path }) => path.startsWith('/services/oauth2/token'), () => new Promise((resolve) => setTimeout(resolve, 400)));
    const base = jwtSession(harness);
    const session = new SalesforceSession({
      auth: { kind: 'jwt-bearer', loginUrl: harness.emulator.url, clientId: harness.emulator.clientId, username: harness.emulator.users.integration.username, privateKeyPem: harness.privateKeyPem },
      apiVersion: base.apiVersion,
      productClientId: base.productClientId,
      timeoutMs: 100,
    });
    const error = await session.token().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SalesforceAuthError);
    expect(error).toMatchObject({ errorCode: 'timeout', httpStatus: 0 });
    expect(salesforceFailureClass(error)).toBe('transient');
  });

  test('when nothing listens at the instance URL, then the call fails as a transient network error', async () => {
    const session = jwtSession(harness);
    await session.token();
    const closedPort = { ...session.current()!, instanceUrl: 'http://127.0.0.1:9' };
    const rest = new SalesforceRestClient({ ...session, withToken: (call: (t: typeof closedPort) => Promise<unknown>) => call(closedPort) } as unknown as typeof session);
    const error = await rest.getLimits().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SalesforceNetworkError);
    expect(salesforceFailureClass(error)).toBe('transient');
  });

  test.each([
    [new SalesforceApiError(400, 'UNABLE_TO_LOCK_ROW', 'locked'), 'transient'],
    [new SalesforceApiError(403, 'REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.'), 'transient'],
    [new SalesforceApiError(503, 'SERVER_UNAVAILABLE', 'down'), 'transient'],
    [new SalesforceApiError(403, 'INSUFFICIENT_ACCESS', 'no'), 'credentials'],
    [new SalesforceSessionExpiredError('INVALID_SESSION_ID'), 'credentials'],
    [new SalesforceAuthError('invalid_grant', 'user hasn\'t approved this consumer', 400), 'credentials'],
    [new SalesforceAuthError('network_error', 'ECONNREFUSED', 0), 'transient'],
    [new SalesforceApiError(400, 'FIELD_CUSTOM_VALIDATION_EXCEPTION', 'rule'), 'permanent'],
    [new SalesforceApiError(400, 'INVALID_FIELD', 'No such column'), 'permanent'],
    [new Error('not salesforce'), undefined],
  ] as const)('%s is %s', (error, expected) => {
    expect(salesforceFailureClass(error)).toBe(expected);
  });

  test.each([
    ['UNABLE_TO_LOCK_ROW', 'transient'],
    ['FIELD_CUSTOM_VALIDATION_EXCEPTION', 'permanent'],
    ['ENTITY_IS_DELETED', 'permanent'],
    ['CANNOT_UPDATE_CONVERTED_LEAD', 'permanent'],
    ['REQUIRED_FIELD_MISSING', 'permanent'],
  ] as const)('a record refused with %s is %s', (code, expected) => {
    expect(saveErrorClass(code)).toBe(expected);
  });

  test('when a validation message quotes the person, then the redacted message keeps the rule but not the data', () => {
    const message = redactSalesforceMessage(`VIP "Ada Lovelace" (ada@example.com, +44 20 7946 0958) may not opt out`);
    expect(message).toBe('VIP [quoted] ([email], [number]) may not opt out');
  });

  test('when Salesforce refuses a query, then the error keeps the reason and its place but not the query, which lists the emails asked for', async () => {
    const rest = new SalesforceRestClient(jwtSession(harness));
    const error = await rest.query(`SELECT Id, Nope__c FROM Contact WHERE Email IN ('someone@example.com')`, idSchema).catch((e: unknown) => e);
    expect(error).toMatchObject({ errorCode: 'INVALID_FIELD' });
    const message = (error as Error).message;
    expect(message).toContain("No such column 'Nope__c' on entity 'Contact'");
    expect(message).toContain('(at row 1, column 12 of the query)');
    expect(message).not.toContain('someone@example.com');
  });

  test('when a trigger names the person without quotes, then the names and the email\'s parts known of the person are stripped as words, whatever their case', () => {
    const personal = ['Mary Ann Evans', 'Mary Ann', 'Evans', 'Mary', 'Ann', ...emailParts('george.eliot+news@example.com')];
    expect(emailParts('george.eliot+news@example.com')).toEqual(['george.eliot+news', 'george', 'eliot', 'news']);
    const message = redactSalesforceMessage('MARY ANN EVANS (george.eliot) is a key account; Evans\'s owner decides. Annual review pending', 300, personal);
    // "Annual" keeps its "Ann": only whole words go.
    expect(message).toBe('[name] ([name].[name]) is a key account; [name]\'s owner decides. Annual review pending');
  });
});

describe('Salesforce sessions and the daily API limit', () => {
  let org: Harness;
  const clock = { offsetMs: 0 };

  beforeAll(async () => {
    org = await startHarness({ now: () => new Date(Date.now() + clock.offsetMs) });
  });
  /** The product signs its JWT with the same (mocked) time as the org. */
  const orgSession = () => {
    const base = jwtSession(org);
    return new SalesforceSession({
      auth: { kind: 'jwt-bearer', loginUrl: org.emulator.url, clientId: org.emulator.clientId, username: org.emulator.users.integration.username, privateKeyPem: org.privateKeyPem },
      apiVersion: base.apiVersion,
      productClientId: base.productClientId,
      clock: { ...systemClock, now: () => Date.now() + clock.offsetMs },
    });
  };
  afterAll(async () => {
    await org.emulator.close();
  });

  test('when the session expired after two idle hours, then the client re-authenticates and the call still answers', async () => {
    const session = orgSession();
    const rest = new SalesforceRestClient(session);
    const id = String(org.emulator.insert('Contact', { LastName: 'Idle', Email: 'idle@example.com' }).Id);
    await rest.getLimits();
    expect(session.refreshes()).toBe(1);
    clock.offsetMs += 2 * 3600_000 + 1000;
    const rows = await rest.query(`SELECT Id FROM Contact WHERE Email = 'idle@example.com'`, idSchema);
    expect(rows).toEqual([{ Id: id }]);
    expect(session.refreshes()).toBe(2);
  });

  test('when the session dies between two Collections calls of one update (over 200 records), then the second call re-authenticates and every record is written once', async () => {
    const session = orgSession();
    const rest = new SalesforceRestClient(session);
    const ids = org.emulator.seed({ Contact: Array.from({ length: 250 }, (_, i) => ({ LastName: `Mid${i}`, Email: `mid${i}@example.com` })) }).Contact ?? [];
    await rest.getLimits();
    let patches = 0;
    org.emulator.beforeNextRequest(({ method, path }) => method === 'PATCH' && path.includes('/composite/sobjects') && ++patches === 2, () => org.emulator.revokeAllTokens());
    const results = await rest.updateRecords('Contact', ids.map((Id) => ({ Id, HasOptedOutOfEmail: true })));
    expect(results).toHaveLength(250);
    expect(results.every((r) => r.success)).toBe(true);
    expect(session.refreshes()).toBe(2);
    expect(ids.every((id) => org.emulator.get('Contact', id)?.HasOptedOutOfEmail === true)).toBe(true);
    const collectionCalls = org.emulator.requestLog.filter((r) => r.method === 'PATCH' && r.path.includes('/composite/sobjects'));
    // 200 + 50, and the refused second call once more after the new token.
    expect(collectionCalls.length).toBeGreaterThanOrEqual(3);
  });

  test('when Salesforce answers, then the client reads the org API use from Sforce-Limit-Info and reports it', async () => {
    const seen: Array<{ used: number; max: number }> = [];
    const rest = new SalesforceRestClient(orgSession(), { onApiUsage: (usage) => seen.push(usage) });
    await rest.getLimits();
    const usage = org.emulator.apiUsage();
    expect(rest.apiUsage()).toMatchObject({ used: usage.used, max: usage.max });
    expect(seen.at(-1)).toMatchObject({ used: usage.used, max: 15000 });
  });

  test('when the daily API limit is reached, then the call fails with REQUEST_LIMIT_EXCEEDED, classed transient (wait)', async () => {
    const rest = new SalesforceRestClient(orgSession());
    await rest.getLimits();
    org.emulator.setApiLimit({ max: org.emulator.apiUsage().used, enforce: true });
    try {
      const error = await rest.getLimits().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SalesforceApiError);
      expect(error).toMatchObject({ httpStatus: 403, errorCode: 'REQUEST_LIMIT_EXCEEDED' });
      expect(salesforceFailureClass(error)).toBe('transient');
      expect(rest.apiUsage()?.used).toBe(rest.apiUsage()?.max);
    } finally {
      org.emulator.setApiLimit({ max: 15000, enforce: false });
    }
  });
});

describe('what the integration user lacks, from the describes', () => {
  afterEach(() => {
    for (const object of ['Contact', 'Lead']) for (const field of ['HasOptedOutOfEmail', 'Opt_Out_Source__c', 'AC_Status__c']) harness.emulator.setFieldAccess(object, field, 'edit');
  });

  test('when a package field written beside the opt-out is read-only or hidden, then it is a finding: Salesforce would refuse every opt-out written with it', async () => {
    harness.emulator.setFieldAccess('Contact', 'Opt_Out_Source__c', 'read');
    harness.emulator.setFieldAccess('Lead', 'AC_Status__c', 'hidden');
    const findings = await salesforcePermissionFindings(new SalesforceRestClient(jwtSession(harness)), 'HasOptedOutOfEmail');
    expect(findings).toEqual([
      expect.objectContaining({ object: 'Contact', field: 'Opt_Out_Source__c', permission: 'Field-level security: Edit' }),
      expect.objectContaining({ object: 'Lead', field: 'AC_Status__c', permission: 'Field-level security: Read' }),
    ]);
  });

  test('when everything is granted, then there is no finding', async () => {
    expect(await salesforcePermissionFindings(new SalesforceRestClient(jwtSession(harness)), 'HasOptedOutOfEmail')).toEqual([]);
  });
});

