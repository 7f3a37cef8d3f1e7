// Turns the environment into the typed AppConfig the rest of the app receives; nothing else reads process.env.
import fs from 'node:fs';
import { parseEnv } from 'node:util';
import { z } from 'zod';
import { envSchema, configEntries, type Env, type EnvName } from './config-schema';

export type SalesforceAuth =
  | { flow: 'jwt'; clientId: string; username: string; privateKeyFile: string }
  | { flow: 'client_credentials'; clientId: string; clientSecret: string };

export interface AppConfig {
  salesforce: {
    loginUrl: string;
    apiVersion: string;
    auth: SalesforceAuth;
    clientTag: string;
    expiredReplayFallback: -1 | -2;
    settingsRefreshCron: string;
    eventTransport: 'pubsub' | 'cometd';
    pubSubEndpoint: string;
    pubSubCaFile: string | undefined;
  };
  activecampaign: {
    apiUrl: string;
    apiToken: string;
    rateLimitPerSecond: number;
    bulkThreshold: number;
    pollCron: string;
    pollOverlapSeconds: number;
    webhookPublicUrl: string | undefined;
  };
  database: { kind: 'postgres'; url: string } | { kind: 'pglite'; dataDir: string };
  http: {
    host: string;
    port: number;
    adminToken: string;
    webhookSecret: string;
    /** The public face: the webhook receiver alone on its own listener (undefined: served by the main listener). */
    webhook: { host: string; port: number } | undefined;
  };
  /** node-cron schedule of the full reconciliation, or null when switched off. */
  reconcileCron: string | null;
  jobs: { maxAttempts: number; backoffBaseMs: number; backoffCapMs: number; retryWindowMs: number };
  /** Days each kind of row is kept (0: forever) and the pruning batch size. */
  retention: { auditLogDays: number; webhookInboxDays: number; quarantineDays: number; jobsDays: number; batchSize: number };
  logLevel: Env['LOG_LEVEL'];
  /** Every secret value, so that the logger can redact them wherever they appear. */
  secrets: string[];
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** One line per problem, naming the variable and never its value (values may be secrets). */
function describeIssues(error: z.ZodError, given: Record<string, string | undefined>): string[] {
  return error.issues.map((issue) => {
    const name = String(issue.path[0] ?? '(environment)');
    // "is required" only for a variable that is absent: a value that could not be read says what was wrong with it.
    const absent = given[name] === undefined;
    const message = absent && issue.code === 'invalid_type' ? 'is required' : issue.code === 'invalid_type' ? `is not a valid ${issue.expected}` : issue.message;
    const doc = name in configEntries ? ` (${configEntries[name as EnvName].doc})` : '';
    return `${name}: ${message}${doc}`;
  });
}

export function parseConfig(source: Record<string, string | undefined>): AppConfig {
  const relevant = Object.fromEntries(
    Object.keys(configEntries).map((name) => [name, source[name] === '' ? undefined : source[name]]),
  );
  const parsed = envSchema.safeParse(relevant);
  if (!parsed.success) throw new ConfigError(describeIssues(parsed.error, relevant));
  const env = parsed.data;
  const auth: SalesforceAuth =
    env.SF_USERNAME !== undefined && env.SF_PRIVATE_KEY_FILE !== undefined
      ? { flow: 'jwt', clientId: env.SF_CLIENT_ID, username: env.SF_USERNAME, privateKeyFile: env.SF_PRIVATE_KEY_FILE }
      : { flow: 'client_credentials', clientId: env.SF_CLIENT_ID, clientSecret: env.SF_CLIENT_SECRET ?? '' };
  const secrets = [env.AC_API_TOKEN, env.ADMIN_TOKEN, env.WEBHOOK_SECRET, env.SF_CLIENT_SECRET, env.DATABASE_URL]
    .filter((v): v is string => typeof v === 'string' && v.length > 0);
  return {
    salesforce: {
      loginUrl: env.SF_LOGIN_URL,
      apiVersion: env.SF_API_VERSION,
      auth,
      clientTag: env.SF_CLIENT_TAG,
      expiredReplayFallback: env.SF_EXPIRED_REPLAY_FALLBACK === '-2' ? -2 : -1,
      settingsRefreshCron: env.SF_SETTINGS_REFRESH_CRON,
      eventTransport: env.SF_EVENT_TRANSPORT,
      pubSubEndpoint: env.SF_PUBSUB_ENDPOINT,
      pubSubCaFile: env.SF_PUBSUB_CA_FILE,
    },
    activecampaign: {
      apiUrl: env.AC_API_URL.replace(/\/+$/, ''),
      apiToken: env.AC_API_TOKEN,
      rateLimitPerSecond: env.AC_RATE_LIMIT_PER_SECOND,
      bulkThreshold: env.AC_BULK_THRESHOLD,
      pollCron: env.AC_POLL_CRON,
      pollOverlapSeconds: env.AC_POLL_OVERLAP_SECONDS,
      webhookPublicUrl: env.AC_WEBHOOK_PUBLIC_URL,
    },
    database: env.DATABASE_URL !== undefined ? { kind: 'postgres', url: env.DATABASE_URL } : { kind: 'pglite', dataDir: env.PGLITE_DATA_DIR },
    http: {
      host: env.HTTP_HOST,
      port: env.HTTP_PORT,
      adminToken: env.ADMIN_TOKEN,
      webhookSecret: env.WEBHOOK_SECRET,
      webhook: env.WEBHOOK_HTTP_PORT !== undefined ? { host: env.WEBHOOK_HTTP_HOST, port: env.WEBHOOK_HTTP_PORT } : undefined,
    },
    reconcileCron: env.RECONCILE_CRON.trim().toLowerCase() === 'off' ? null : env.RECONCILE_CRON,
    jobs: { maxAttempts: env.JOB_MAX_ATTEMPTS, backoffBaseMs: env.JOB_BACKOFF_BASE_MS, backoffCapMs: env.JOB_BACKOFF_CAP_SECONDS * 1000, retryWindowMs: env.JOB_RETRY_WINDOW_HOURS * 3600_000 },
    retention: {
      auditLogDays: env.RETENTION_AUDIT_LOG_DAYS,
      webhookInboxDays: env.RETENTION_WEBHOOK_INBOX_DAYS,
      quarantineDays: env.RETENTION_QUARANTINE_DAYS,
      jobsDays: env.RETENTION_JOBS_DAYS,
      batchSize: env.RETENTION_BATCH_SIZE,
    },
    logLevel: env.LOG_LEVEL,
    secrets,
  };
}

/** Reads an optional .env file (values already in the environment win) and parses the result. */
export function loadConfig(envFile = '.env', environment: NodeJS.ProcessEnv = process.env): AppConfig {
  const merged: Record<string, string | undefined> = {};
  if (fs.existsSync(envFile)) Object.assign(merged, parseEnv(fs.readFileSync(envFile, 'utf8')));
  return parseConfig({ ...merged, ...environment });
}
