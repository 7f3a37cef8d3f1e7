// The Salesforce edge: the session and REST client, the org's settings (Sync Settings custom metadata) and the
// integration user's permissions, read at start and on the settings schedule.
import fs from 'node:fs';
import cron from 'node-cron';
import type { Logger } from 'pino';
import type { AppConfig } from '../config/load-config';
import { countingSalesforceFetch, type Metrics } from '../observability/metrics';
import { SalesforceSession, type SalesforceAuthConfig } from '../salesforce/salesforce-auth';
import { SalesforceRestClient } from '../salesforce/salesforce-rest';
import { SalesforcePermissionWatch } from '../salesforce/salesforce-permissions';
import type { Clock } from '../salesforce/logger-and-clock';
import { packageFieldsProbe } from '../workers/salesforce-records';
import { SettingsProvider } from '../salesforce/settings-provider';
import type { AppTiming } from './app-timing';

export interface SalesforceEdge {
  session: SalesforceSession;
  rest: SalesforceRestClient;
  settings: SettingsProvider;
  permissions: SalesforcePermissionWatch;
  /** Whether the package's sync-state fields exist (asked once). */
  customFields: () => Promise<boolean>;
}

export async function connectSalesforce(config: AppConfig, timing: AppTiming, deps: { logger: Logger; metrics: Metrics; edgeClock: Clock }): Promise<SalesforceEdge> {
  const { logger, metrics } = deps;
  const session = new SalesforceSession({ auth: salesforceAuth(config), apiVersion: config.salesforce.apiVersion, productClientId: config.salesforce.clientTag, logger, clock: deps.edgeClock, timeoutMs: timing.sfTimeoutMs });
  const rest = new SalesforceRestClient(session, { logger, fetchImpl: countingSalesforceFetch(metrics), timeoutMs: timing.sfTimeoutMs, onApiUsage: (usage) => metrics.observeSalesforceApiUsage(usage) });
  const settings = new SettingsProvider(rest, logger);
  await settings.refresh().catch(() => undefined);
  // A hidden or read-only opt-out field loses events silently: checked at start and then periodically, it is on the
  // status (salesforcePermissions), the degraded reasons of /readyz and the status page's banner.
  const permissions = new SalesforcePermissionWatch({ rest, optOutField: () => settings.get().optOutField, logger, everyMs: timing.permissionCheckEveryMs });
  await permissions.check();
  permissions.start();
  return { session, rest, settings, permissions, customFields: packageFieldsProbe(rest) };
}

/** Settings and permissions read again on SF_SETTINGS_REFRESH_CRON; then() runs what reads on the same schedule. */
export function scheduleSettingsRefresh(config: AppConfig, edge: SalesforceEdge, then: () => void): { stop(): unknown } {
  return cron.schedule(config.salesforce.settingsRefreshCron, () => void edge.settings.refresh().catch(() => undefined).then(() => edge.permissions.check()).then(then));
}

function salesforceAuth(config: AppConfig): SalesforceAuthConfig {
  const auth = config.salesforce.auth;
  if (auth.flow === 'jwt') {
    return { kind: 'jwt-bearer', loginUrl: config.salesforce.loginUrl, clientId: auth.clientId, username: auth.username, privateKeyPem: fs.readFileSync(auth.privateKeyFile, 'utf8') };
  }
  return { kind: 'client-credentials', loginUrl: config.salesforce.loginUrl, clientId: auth.clientId, clientSecret: auth.clientSecret };
}
