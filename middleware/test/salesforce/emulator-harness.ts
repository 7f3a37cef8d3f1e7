// Shared set-up for the tests that talk HTTP to the Salesforce emulator.
import {
  startSalesforceEmulator,
  generateRsaKeyPair,
  type SalesforceEmulator,
  type SalesforceEmulatorOptions,
} from '../../src/sandbox/salesforce';
import { SalesforceSession } from '../../src/salesforce/salesforce-auth';

export const productClientId = 'OptOutSync';
export const apiVersion = '62.0';

export type Harness = { emulator: SalesforceEmulator; privateKeyPem: string };

export async function startHarness(options: SalesforceEmulatorOptions = {}): Promise<Harness> {
  const keys = generateRsaKeyPair();
  const emulator = await startSalesforceEmulator({ jwtPublicKeyPem: keys.publicKeyPem, ...options });
  return { emulator, privateKeyPem: keys.privateKeyPem };
}

export function jwtSession({ emulator, privateKeyPem }: Harness): SalesforceSession {
  return new SalesforceSession({
    auth: {
      kind: 'jwt-bearer',
      loginUrl: emulator.url,
      clientId: emulator.clientId,
      username: emulator.users.integration.username,
      privateKeyPem,
    },
    apiVersion,
    productClientId,
  });
}

export function clientCredentialsSession(
  { emulator }: Harness,
  clientSecret = emulator.clientSecret,
): SalesforceSession {
  return new SalesforceSession({
    auth: { kind: 'client-credentials', loginUrl: emulator.url, clientId: emulator.clientId, clientSecret },
    apiVersion,
    productClientId,
  });
}
