// RSA key pairs and signed JWT assertions for the JWT bearer flow, made at run time so that no key file is
// ever committed. The assertion carries what Salesforce requires: iss = consumer key, sub = username,
// aud = login URL, exp ("OAuth 2.0 JWT Bearer Flow for Server-to-Server Integration").
import { generateKeyPairSync } from 'node:crypto';
import { signRs256 } from './jwt-rs256';

export interface RsaKeyPair {
  /** SPKI PEM, what the connected app's certificate holds. */
  publicKeyPem: string;
  /** PKCS#8 PEM. */
  privateKeyPem: string;
}

export function generateRsaKeyPair(): RsaKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

export async function signJwtAssertion(claims: {
  privateKeyPem: string;
  clientId: string;
  username: string;
  audience: string;
  /** Seconds from now (negative for an already expired assertion). Default 180. */
  expiresInSeconds?: number;
}): Promise<string> {
  const exp = Math.floor(Date.now() / 1000) + (claims.expiresInSeconds ?? 180);
  return Promise.resolve(
    signRs256({ iss: claims.clientId, sub: claims.username, aud: claims.audience, exp }, claims.privateKeyPem),
  );
}
