import { SalesforceAuthError } from '../../src/salesforce/salesforce-errors';
import { SalesforceSession } from '../../src/salesforce/salesforce-auth';
import {
  apiVersion,
  clientCredentialsSession,
  jwtSession,
  productClientId,
  startHarness,
  type Harness,
} from './emulator-harness';

let harness: Harness;

beforeAll(async () => {
  harness = await startHarness();
});

afterAll(async () => {
  await harness.emulator.close();
});

async function authError(run: () => Promise<unknown>): Promise<SalesforceAuthError> {
  try {
    await run();
  } catch (error) {
    if (error instanceof SalesforceAuthError) return error;
    throw error;
  }
  throw new Error('expected SalesforceAuthError');
}

describe('Salesforce authentication against the emulator', () => {
  test('when the JWT bearer grant is used, then a token, the instance URL and the integration user id come back', async () => {
    const token = await jwtSession(harness).token();
    expect(token.instanceUrl).toBe(harness.emulator.url);
    expect(token.accessToken.length).toBeGreaterThan(10);
    expect(token.userId).toBe(harness.emulator.users.integration.id);
  });

  test('when the client credentials grant is used, then a token comes back', async () => {
    const session = clientCredentialsSession(harness);
    const token = await session.token();
    expect(token.instanceUrl).toBe(harness.emulator.url);
    expect(session.refreshes()).toBe(1);
  });

  test('when the JWT names an unknown user, then invalid_grant becomes SalesforceAuthError without the assertion or key', async () => {
    const session = new SalesforceSession({
      auth: {
        kind: 'jwt-bearer',
        loginUrl: harness.emulator.url,
        clientId: harness.emulator.clientId,
        username: 'nobody@example.com',
        privateKeyPem: harness.privateKeyPem,
      },
      apiVersion,
      productClientId,
    });
    const error = await authError(() => session.token());
    expect(error.errorCode).toBe('invalid_grant');
    expect(error.httpStatus).toBe(400);
    expect(error.message).not.toMatch(/eyJ/); // no JWT segment
    expect(error.message).not.toContain('PRIVATE KEY');
  });

  test('when the client secret is wrong, then the error names the code but never the secret', async () => {
    const error = await authError(() => clientCredentialsSession(harness, 'very-secret-but-wrong').token());
    expect(error.errorCode).toBe('invalid_client');
    expect(error.message).not.toContain('very-secret-but-wrong');
  });

  test('when two callers refresh the same stale token at once, then only one token request is made', async () => {
    const session = jwtSession(harness);
    const stale = await session.token();
    const [a, b] = await Promise.all([session.refresh(stale), session.refresh(stale)]);
    expect(a.accessToken).toBe(b.accessToken);
    expect(session.refreshes()).toBe(2);
    await session.refresh(stale);
    expect(session.refreshes()).toBe(2);
  });
});
