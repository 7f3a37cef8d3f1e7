// RS256 JWT signing and verification with node:crypto. `jose` (the preferred library) is ESM-only from v6 and
// cannot be loaded by jest's CommonJS runtime on Node 22, so the few lines JWT bearer needs live here
// (RFC 7515 compact serialization, RFC 7519 claims).
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';

const headerSchema = z.object({ alg: z.string() }).loose();
const claimsSchema = z
  .object({
    iss: z.string().optional(),
    sub: z.string().optional(),
    aud: z.union([z.string(), z.array(z.string())]).optional(),
    exp: z.number().optional(),
    nbf: z.number().optional(),
  })
  .loose();
export type JwtClaims = z.infer<typeof claimsSchema>;

export class JwtError extends Error {
  constructor(readonly reason: 'malformed' | 'signature' | 'expired' | 'not-yet-valid') {
    super(`JWT ${reason}`);
  }
}

function decodeJson(part: string): unknown {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
}

export function publicKeyFromPem(pem: string): KeyObject {
  return createPublicKey(pem);
}

/** Verifies an RS256 compact JWT; `nowSeconds` is the clock to test exp/nbf against. */
export function verifyRs256(token: string, key: KeyObject, nowSeconds: number): JwtClaims {
  const parts = token.split('.');
  const [h, p, s] = parts;
  if (parts.length !== 3 || !h || !p || !s) throw new JwtError('malformed');
  let header;
  let claims;
  try {
    header = headerSchema.parse(decodeJson(h));
    claims = claimsSchema.parse(decodeJson(p));
  } catch {
    throw new JwtError('malformed');
  }
  if (header.alg !== 'RS256') throw new JwtError('signature');
  if (!verify('RSA-SHA256', Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url')))
    throw new JwtError('signature');
  if (claims.exp === undefined || claims.exp <= nowSeconds) throw new JwtError('expired');
  if (claims.nbf !== undefined && claims.nbf > nowSeconds) throw new JwtError('not-yet-valid');
  return claims;
}

export function signRs256(claims: Record<string, unknown>, privateKeyPem: string): string {
  const h = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT' })).toString('base64url');
  const p = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const s = sign('RSA-SHA256', Buffer.from(`${h}.${p}`), createPrivateKey(privateKeyPem)).toString('base64url');
  return `${h}.${p}.${s}`;
}
