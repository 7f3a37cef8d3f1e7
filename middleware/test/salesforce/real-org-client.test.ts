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
  saveErrorClass,
  salesforceFailureClass,
} from '../../src/salesforce/salesforce-errors';
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
});
