// The logger is the last line of defence for secrets: whatever a caller passes (a nested request, a header in any
// letter case, an error message that quotes a secret), the written line must not carry a secret.
import type { DestinationStream } from 'pino';
import { createLogger } from '../../src/observability/logger';

function capture(secrets: string[] = []) {
  const lines: string[] = [];
  const destination = { write: (line: string) => void lines.push(line) } as unknown as DestinationStream;
  const logger = createLogger({ level: 'debug', secrets, destination });
  return { logger, lines, text: () => lines.join('') };
}

describe('redaction by key', () => {
  test('when a secret sits under a sensitive key several levels deep, then it is redacted', () => {
    const { logger, text, lines } = capture();
    logger.info({ request: { options: { headers: { authorization: 'Bearer deep-value-1' } } }, outer: { inner: { deeper: { password: 'deep-value-2' } } } }, 'nested');
    expect(text()).not.toContain('deep-value-1');
    expect(text()).not.toContain('deep-value-2');
    const line = JSON.parse(lines[0]!) as { request: { options: { headers: { authorization: string } } } };
    expect(line.request.options.headers.authorization).toBe('[REDACTED]');
  });

  test('when a sensitive key is written in any letter case or with - or _, then it is redacted', () => {
    const { logger, text } = capture();
    logger.info({ AUTHORIZATION: 'case-value-1', 'Api-Token': 'case-value-2', ACCESS_TOKEN: 'case-value-3', ClientSecret: 'case-value-4', headers: { 'API-TOKEN': 'case-value-5', Cookie: 'case-value-6' }, webhookSecret: 'case-value-7', refresh_token: 'case-value-8' }, 'cases');
    for (let i = 1; i <= 8; i += 1) expect(text()).not.toContain(`case-value-${i}`);
  });

  test('when sensitive keys sit inside arrays and child logger bindings, then they are redacted', () => {
    const { logger, text } = capture();
    logger.child({ session: { accessToken: 'binding-value' } }).info({ calls: [{ headers: { Authorization: 'array-value' } }] }, 'arrays');
    expect(text()).not.toContain('binding-value');
    expect(text()).not.toContain('array-value');
  });

  test('when a key only resembles a sensitive one or holds a flag, then the value stays readable', () => {
    const { logger, lines } = capture();
    logger.info({ tokenBucketSize: 5, refreshToken: true, email: 'abc123def456', reason: 'token expired' }, 'harmless');
    expect(JSON.parse(lines[0]!)).toMatchObject({ tokenBucketSize: 5, refreshToken: true, email: 'abc123def456', reason: 'token expired' });
  });

  test('when an object refers to itself, then logging it does not hang and still redacts', () => {
    const { logger, text } = capture();
    const loop: Record<string, unknown> = { password: 'loop-value' };
    loop.self = loop;
    logger.info({ loop }, 'cycle');
    expect(text()).not.toContain('loop-value');
  });
});

describe('redaction by value', () => {
  const awkward = ['quote"in"secret-1234', 'back\\slash\\secret-5678', `both"and\\mixed'secret`, 'new\nline-secret-90', 'uni\u2028code-secret-ab'];

  test.each(awkward)('when a configured secret with quotes or backslashes (%j) appears in a message or field, then it is redacted', (secret) => {
    const { logger, text } = capture([secret]);
    logger.error({ err: `request to https://x.example/hook/${secret} failed`, nested: { detail: secret } }, `failed with ${secret}`);
    const written = text();
    expect(written).not.toContain(JSON.stringify(secret).slice(1, -1));
    expect(written).not.toContain(secret);
    expect(written).toContain('[REDACTED]');
    expect(() => JSON.parse(written)).not.toThrow();
  });

  test('when a configured secret appears URL-encoded, then it is redacted', () => {
    const secret = 'with space/and?query=1';
    const { logger, text } = capture([secret]);
    logger.warn({ url: `https://x.example/?s=${encodeURIComponent(secret)}` }, 'encoded');
    expect(text()).not.toContain(encodeURIComponent(secret));
  });

  test('when a child logger writes a configured secret, then it is redacted too', () => {
    const secret = 'child"secret\\value';
    const { logger, text } = capture([secret]);
    logger.child({ instance: 'a' }).info({ detail: secret }, 'child');
    expect(text()).not.toContain(JSON.stringify(secret).slice(1, -1));
  });
});

describe('redaction of secrets obtained at run time (not configured, so not known by value)', () => {
  const sessionId = '00D5j000000AbCdE!AQ4AQH8x_K9rT2mVx.Yz3qLw0pA7sJk1NfGhB6dE5cWuVtRsQpOnMlKjIhG';
  const assertion = 'eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJjbGllbnQifQ.c2lnbmF0dXJlLXZhbHVl';

  test('when a JWT bearer assertion is logged under client_assertion or clientAssertion, then it is redacted', () => {
    const { logger, text } = capture();
    logger.info({ form: { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', client_assertion: assertion }, clientAssertion: assertion }, 'token request');
    expect(text()).not.toContain(assertion);
  });

  test('when an error message quotes an Authorization header or a Salesforce session id, then the token is cut out of the text', () => {
    const { logger, text } = capture();
    logger.error({ err: new Error(`request failed: Authorization: Bearer ${sessionId} was refused`) }, 'failed');
    logger.warn({ detail: `session ${sessionId} expired` }, 'expired');
    expect(text()).not.toContain(sessionId);
    expect(text()).not.toContain('AQ4AQH8x_K9rT2mVx');
    expect(text()).toContain('request failed: Authorization: Bearer [REDACTED] was refused');
  });
});
