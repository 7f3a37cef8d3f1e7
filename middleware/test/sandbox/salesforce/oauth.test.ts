import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  generateRsaKeyPair,
  signJwtAssertion,
  startSalesforceEmulator,
  type SalesforceEmulator,
} from '../../../src/sandbox/salesforce';

describe('Salesforce emulator OAuth token endpoint', () => {
  const keys = generateRsaKeyPair();
  let sf: SalesforceEmulator;

  beforeAll(async () => {
    sf = await startSalesforceEmulator({ jwtPublicKeyPem: keys.publicKeyPem });
  });
  afterAll(async () => {
    await sf.close();
  });

  const token = (form: Record<string, string>): Promise<Response> =>
    fetch(`${sf.url}/services/oauth2/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
  const jwtGrant = (assertion: string): Promise<Response> =>
    token({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion });

  it('when a JWT signed with the uploaded key asserts a known user, then a Salesforce-shaped token response comes back', async () => {
    const assertion = await signJwtAssertion({
      privateKeyPem: keys.privateKeyPem,
      clientId: sf.clientId,
      username: sf.users.integration.username,
      audience: 'https://login.salesforce.com',
    });
    const res = await jwtGrant(assertion);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, string>;
    expect(Object.keys(body).sort()).toEqual([
      'access_token',
      'id',
      'instance_url',
      'issued_at',
      'scope',
      'signature',
      'token_type',
    ]);
    expect(body.instance_url).toBe(sf.url);
    expect(body.token_type).toBe('Bearer');
    expect(body.id).toBe(`${sf.url}/id/${sf.orgId}/${sf.users.integration.id}`);
    const limits = await fetch(`${sf.url}/services/data/v62.0/limits`, {
      headers: { Authorization: `Bearer ${body.access_token}` },
    });
    expect(limits.status).toBe(200);
  });

  it('when the JWT is signed with another key, is expired, or names the wrong audience, then invalid_grant with HTTP 400', async () => {
    const other = generateRsaKeyPair();
    const base = { clientId: sf.clientId, username: sf.users.integration.username, audience: sf.url };
    const cases: Array<[string, string]> = [
      [await signJwtAssertion({ ...base, privateKeyPem: other.privateKeyPem }), 'invalid assertion'],
      [
        await signJwtAssertion({ ...base, privateKeyPem: keys.privateKeyPem, expiresInSeconds: -60 }),
        'expired authorization code',
      ],
      [
        await signJwtAssertion({ ...base, privateKeyPem: keys.privateKeyPem, audience: 'https://example.com' }),
        'audience is invalid',
      ],
      [
        await signJwtAssertion({ ...base, privateKeyPem: keys.privateKeyPem, username: 'nobody@example.com' }),
        "user hasn't approved this consumer",
      ],
    ];
    for (const [assertion, description] of cases) {
      const res = await jwtGrant(assertion);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: 'invalid_grant', error_description: description });
    }
  });

  it('when client credentials are right, then a token for the run-as user; when the secret is wrong, then invalid_client', async () => {
    const ok = await token({
      grant_type: 'client_credentials',
      client_id: sf.clientId,
      client_secret: sf.clientSecret,
    });
    expect(ok.status).toBe(200);
    const bad = await token({ grant_type: 'client_credentials', client_id: sf.clientId, client_secret: 'wrong' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: 'invalid_client', error_description: 'invalid client credentials' });
  });

  it('when a token is revoked through /services/oauth2/revoke, then REST answers 401 INVALID_SESSION_ID', async () => {
    const accessToken = sf.issueToken();
    const revoke = await fetch(`${sf.url}/services/oauth2/revoke`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: accessToken }).toString(),
    });
    expect(revoke.status).toBe(200);
    const res = await fetch(`${sf.url}/services/data/v62.0/query?q=SELECT+Id+FROM+Contact`, {
      headers: { Authorization: `Bearer ${accessToken}` },
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual([{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]);
  });
});
