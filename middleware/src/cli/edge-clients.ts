// Salesforce and ActiveCampaign clients for commands that run beside (not inside) the middleware: check and
// backfill. They spend the same account budgets as the running middleware, hence the reduced AC rate.
import fs from 'node:fs';
import type { AppConfig } from '../config/load-config';
import { SalesforceSession, type SalesforceAuthConfig } from '../salesforce/salesforce-auth';
import { SalesforceRestClient } from '../salesforce/salesforce-rest';
import { ActiveCampaignClient } from '../activecampaign/activecampaign-client';
import { TokenBucket } from '../activecampaign/rate-limiter';

export function salesforceAuthFrom(config: AppConfig): SalesforceAuthConfig {
  const auth = config.salesforce.auth;
  if (auth.flow === 'jwt') {
    return { kind: 'jwt-bearer', loginUrl: config.salesforce.loginUrl, clientId: auth.clientId, username: auth.username, privateKeyPem: fs.readFileSync(auth.privateKeyFile, 'utf8') };
  }
  return { kind: 'client-credentials', loginUrl: config.salesforce.loginUrl, clientId: auth.clientId, clientSecret: auth.clientSecret };
}

export function salesforceClients(config: AppConfig): { session: SalesforceSession; rest: SalesforceRestClient } {
  const session = new SalesforceSession({ auth: salesforceAuthFrom(config), apiVersion: config.salesforce.apiVersion, productClientId: config.salesforce.clientTag });
  return { session, rest: new SalesforceRestClient(session) };
}

/**
 * AC's 5 requests/s belong to the account (DESIGN §5), and a running middleware is using them: a side command
 * takes at most 40 % of the configured rate so that live opt-outs keep flowing.
 */
export function activeCampaignClient(config: AppConfig, share = 0.4): ActiveCampaignClient {
  return new ActiveCampaignClient({
    apiUrl: config.activecampaign.apiUrl,
    apiToken: config.activecampaign.apiToken,
    rateLimiter: new TokenBucket({ ratePerSecond: Math.max(0.5, config.activecampaign.rateLimitPerSecond * share) }),
    timeoutMs: 15_000,
  });
}
