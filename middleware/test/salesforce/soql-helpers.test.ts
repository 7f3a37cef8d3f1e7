import crypto from 'node:crypto';
import { chunkInLists, soqlDateTime, soqlString } from '../../src/salesforce/salesforce-rest';
import { buildJwtAssertion } from '../../src/salesforce/salesforce-auth';

describe('SOQL literals', () => {
  test('when an email holds a quote or a backslash, then the literal escapes both', () => {
    expect(soqlString("o'brien\\x@example.com")).toBe("'o\\'brien\\\\x@example.com'");
  });

  test('when a date is formatted, then it is an unquoted UTC dateTime without milliseconds', () => {
    expect(soqlDateTime(new Date('2024-01-02T03:04:05.678Z'))).toBe('2024-01-02T03:04:05Z');
  });

  test('when IN lists are chunked, then no chunk exceeds the item cap or the character budget and order is kept', () => {
    const literals = Array.from({ length: 450 }, (_, i) => soqlString(`person${i}@example.com`));
    const byItems = chunkInLists(literals, 200, 1_000_000);
    expect(byItems.map((chunk) => chunk.length)).toEqual([200, 200, 50]);
    const byChars = chunkInLists(literals, 1000, 500);
    expect(byChars.every((chunk) => chunk.join(',').length <= 500)).toBe(true);
    expect(byChars.flat()).toEqual(literals);
  });
});

describe('JWT bearer assertion', () => {
  test('when an assertion is built, then it is RS256 over iss/sub/aud/exp (+3 min) and verifies with the public key', () => {
    const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const now = Date.UTC(2025, 0, 1);
    const jwt = buildJwtAssertion(
      {
        clientId: 'consumer-key',
        username: 'integration@example.com',
        loginUrl: 'https://login.salesforce.com/',
        privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      },
      now,
    );
    const [header, claims, signature] = jwt.split('.') as [string, string, string];
    expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toEqual({ alg: 'RS256', typ: 'JWT' });
    expect(JSON.parse(Buffer.from(claims, 'base64url').toString())).toEqual({
      iss: 'consumer-key',
      sub: 'integration@example.com',
      aud: 'https://login.salesforce.com',
      exp: now / 1000 + 180,
    });
    const valid = crypto
      .createVerify('RSA-SHA256')
      .update(`${header}.${claims}`)
      .verify(publicKey, Buffer.from(signature, 'base64url'));
    expect(valid).toBe(true);
  });
});
