// Everything the middleware reads from the environment, in one zod schema. Product behaviour (opt-out field,
// directions, scope, event mode) lives in the org's custom metadata (settings/), not here: the environment holds
// connection details, secrets and operational knobs only.
import { z } from 'zod';

const positiveInt = z.coerce.number().int().positive();
const days = z.coerce.number().int().min(0, 'must be 0 (keep forever) or a number of days');
const url = z.url({ protocol: /^https?$/ });
// A port given as anything but digits (HTTP_PORT=eighty) is named as such, not as a missing value.
const port = z
  .string()
  .trim()
  .regex(/^\d{1,5}$/, 'is not a port number (0-65535)')
  .transform(Number)
  .refine((n) => n <= 65535, 'is not a port number (0-65535)');

/** One entry per variable: the schema, its default and one line of documentation (also rendered in .env.example). */
export const configEntries = {
  SF_LOGIN_URL: { schema: url.default('https://login.salesforce.com'), doc: 'Salesforce login URL (https://test.salesforce.com for sandboxes, or the My Domain URL).' },
  SF_CLIENT_ID: { schema: z.string().min(1), doc: 'Consumer key of the connected app / external client app.' },
  SF_USERNAME: { schema: z.string().min(1).optional(), doc: 'Integration user for the JWT bearer flow (production). With SF_PRIVATE_KEY_FILE.' },
  SF_PRIVATE_KEY_FILE: { schema: z.string().min(1).optional(), doc: 'PEM private key whose certificate is uploaded to the connected app (JWT bearer flow).' },
  SF_CLIENT_SECRET: { schema: z.string().min(1).optional(), secret: true, doc: 'Consumer secret for the client-credentials flow (used when no private key is set).' },
  SF_API_VERSION: { schema: z.string().regex(/^\d{2}\.0$/, 'must look like 65.0').default('65.0'), doc: 'Salesforce API version for REST and CometD (>= 52.0 to receive EventUuid).' },
  SF_CLIENT_TAG: { schema: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/).default('optout-sync'), doc: 'Client id sent as Sforce-Call-Options: client=<id>; its CDC echoes are dropped (rule R6).' },
  SF_EXPIRED_REPLAY_FALLBACK: { schema: z.enum(['-1', '-2']).default('-1'), doc: 'After an expired replay id: -1 resubscribes for new events (then reconciles by SOQL), -2 replays all retained events.' },
  SF_EVENT_TRANSPORT: { schema: z.enum(['pubsub', 'cometd']).default('cometd'), doc: 'How Salesforce events arrive: pubsub (Pub/Sub API over gRPC, recommended by Salesforce; needs egress to SF_PUBSUB_ENDPOINT) or cometd (Streaming API over HTTPS). Unset means cometd so that an upgrade keeps its stream and replay position; .env.example sets pubsub for new installations. Switching transport reconciles once by SOQL from the last checkpoint.' },
  SF_PUBSUB_ENDPOINT: { schema: z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'must be host:port').default('api.pubsub.salesforce.com:7443'), doc: 'Pub/Sub API endpoint as host:port (port 443 also works where 7443 is blocked; api.deu.pubsub.salesforce.com for EU data in transit).' },
  SF_PUBSUB_CA_FILE: { schema: z.string().min(1).optional(), doc: 'PEM file of a CA to trust for the Pub/Sub endpoint instead of the system roots (a private endpoint, or the sandbox emulator).' },
  SF_SETTINGS_REFRESH_CRON: { schema: z.string().default('*/5 * * * *'), doc: 'How often the custom metadata settings are re-read from the org.' },
  AC_API_URL: { schema: url, doc: 'ActiveCampaign API URL as the account shows it (Settings > Developer), e.g. https://youraccount.api-us1.com.' },
  AC_API_TOKEN: { schema: z.string().min(1), secret: true, doc: 'ActiveCampaign API key (sent as the Api-Token header).' },
  AC_RATE_LIMIT_PER_SECOND: { schema: positiveInt.default(5), doc: 'Requests per second allowed to ActiveCampaign for this account (shared by all instances).' },
  AC_BULK_THRESHOLD: { schema: positiveInt.default(100), doc: 'Queued opt-outs above which the push path switches to bulk-import batches.' },
  AC_POLL_CRON: { schema: z.string().default('* * * * *'), doc: 'node-cron schedule of the ActiveCampaign poller (default every minute).' },
  RECONCILE_CRON: { schema: z.string().default('30 3 * * *'), doc: 'node-cron schedule of the full reconciliation (every Salesforce record against AC list statuses, both directions), run by the leader; default daily at 03:30. "off" disables the schedule (the admin API and CLI still run it).' },
  AC_POLL_OVERLAP_SECONDS: { schema: z.coerce.number().int().min(0).default(120), doc: 'Overlap re-read behind the poll cursor, for clock skew between AC and us.' },
  AC_WEBHOOK_PUBLIC_URL: { schema: url.optional(), doc: 'Public HTTPS base URL where AC can reach this middleware; when set, the webhook is registered at start.' },
  DATABASE_URL: { schema: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(), secret: true, doc: 'PostgreSQL URL (required for several instances). Unset: embedded PGlite in PGLITE_DATA_DIR.' },
  PGLITE_DATA_DIR: { schema: z.string().min(1).default('.data/pglite'), doc: 'Directory of the embedded PGlite database (used when DATABASE_URL is unset).' },
  HTTP_HOST: { schema: z.string().default('127.0.0.1'), doc: 'Interface the HTTP server binds to.' },
  HTTP_PORT: { schema: port.default(8080), doc: 'Port of /healthz, /readyz, /metrics, the admin API, the status page (and the webhook receiver unless WEBHOOK_HTTP_PORT is set).' },
  WEBHOOK_HTTP_PORT: { schema: port.optional(), doc: 'When set, the AC webhook receiver listens on this port alone (the only one to expose, behind a TLS proxy) and HTTP_PORT no longer serves it.' },
  WEBHOOK_HTTP_HOST: { schema: z.string().min(1).default('127.0.0.1'), doc: 'Interface of the webhook listener (with WEBHOOK_HTTP_PORT); 0.0.0.0 only when no proxy runs on this host.' },
  ADMIN_TOKEN: { schema: z.string().min(16, 'must be at least 16 characters'), secret: true, doc: 'Bearer token for the admin API.' },
  WEBHOOK_SECRET: { schema: z.string().min(16, 'must be at least 16 characters'), secret: true, doc: 'Secret carried in the webhook URL path (AC signs nothing).' },
  JOB_MAX_ATTEMPTS: { schema: positiveInt.default(8), doc: 'Attempts before work that is not an opt-out (an R5 opt-in, an R2 re-subscribe) may be dead-lettered for a transient cause, once JOB_RETRY_WINDOW_HOURS have passed too. Opt-outs never are: only a permanent refusal of one record ends them.' },
  JOB_BACKOFF_BASE_MS: { schema: positiveInt.default(1000), doc: 'First retry delay; doubles per attempt with full jitter, capped at JOB_BACKOFF_CAP_SECONDS.' },
  JOB_BACKOFF_CAP_SECONDS: { schema: positiveInt.default(300), doc: 'Longest delay between two retries of a job (an opt-out retries at least this often for as long as the outage lasts).' },
  JOB_RETRY_WINDOW_HOURS: { schema: positiveInt.default(168), doc: 'How long work that is not an opt-out keeps retrying transient and credential failures before it may be dead-lettered (7 days).' },
  RETENTION_AUDIT_LOG_DAYS: { schema: days.default(1095), doc: 'Days the audit log (every decision, the record of each opt-out and consent change) is kept; 0 keeps it forever. At least 730 is advised.' },
  RETENTION_WEBHOOK_INBOX_DAYS: { schema: days.default(14), doc: 'Days processed webhook deliveries are kept (pending ones are never pruned); 0 keeps them forever.' },
  RETENTION_QUARANTINE_DAYS: { schema: days.default(90), doc: 'Days quarantined (rejected) inputs are kept for diagnosis; 0 keeps them forever.' },
  RETENTION_JOBS_DAYS: { schema: days.default(30), doc: 'Days finished jobs and already-retried dead letters are kept (open dead letters stay); 0 keeps them forever.' },
  RETENTION_BATCH_SIZE: { schema: positiveInt.max(10_000).default(500), doc: 'Rows deleted per statement when pruning (hourly, on the leader): small batches never hold the queue.' },
  LOG_LEVEL: { schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'), doc: 'pino log level.' },
} as const;

type Entries = typeof configEntries;
export type EnvName = keyof Entries;

export const envSchema = z
  .object(
    Object.fromEntries(Object.entries(configEntries).map(([k, v]) => [k, v.schema])) as {
      [K in EnvName]: Entries[K]['schema'];
    },
  )
  .superRefine((env, ctx) => {
    if (env.WEBHOOK_HTTP_PORT !== undefined && env.WEBHOOK_HTTP_PORT !== 0 && env.WEBHOOK_HTTP_PORT === env.HTTP_PORT) {
      ctx.addIssue({ code: 'custom', path: ['WEBHOOK_HTTP_PORT'], message: 'must differ from HTTP_PORT (the webhook listener is the separate, public one)' });
    }
    const hasJwt = env.SF_USERNAME !== undefined || env.SF_PRIVATE_KEY_FILE !== undefined;
    if (hasJwt && (env.SF_USERNAME === undefined || env.SF_PRIVATE_KEY_FILE === undefined)) {
      ctx.addIssue({ code: 'custom', path: [env.SF_USERNAME === undefined ? 'SF_USERNAME' : 'SF_PRIVATE_KEY_FILE'], message: 'the JWT bearer flow needs both SF_USERNAME and SF_PRIVATE_KEY_FILE' });
    }
    if (!hasJwt && env.SF_CLIENT_SECRET === undefined) {
      ctx.addIssue({ code: 'custom', path: ['SF_CLIENT_SECRET'], message: 'set SF_USERNAME + SF_PRIVATE_KEY_FILE (JWT bearer) or SF_CLIENT_SECRET (client credentials)' });
    }
  });

export type Env = z.infer<typeof envSchema>;

export const secretEnvNames: EnvName[] = (Object.keys(configEntries) as EnvName[]).filter(
  (name) => 'secret' in configEntries[name] && configEntries[name].secret === true,
);
