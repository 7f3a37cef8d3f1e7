// Starts the real middleware against both emulators over loopback HTTP, on a chosen store engine.
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { startSalesforceEmulator, type SalesforceEmulator, type SalesforceEmulatorOptions } from '../../src/sandbox/salesforce';
import { startActiveCampaignEmulator, type ActiveCampaignEmulator, type ActiveCampaignEmulatorOptions } from '../../src/sandbox/activecampaign';
import { parseConfig, type AppConfig } from '../../src/config/load-config';
import { startApp, type RunningApp, type AppTiming } from '../../src/app/create-app';
import { createPostgresDatabase, type Engine } from './test-databases';

export const testSecrets = {
  adminToken: 'admin-token-for-tests-0123456789',
  webhookSecret: 'webhook-secret-for-tests-0123456789',
};

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export const fastTiming: Partial<AppTiming> = {
  workerIdleMs: 50,
  leaseTtlMs: 3000,
  leaseRenewMs: 500,
  streamServerTimeoutMs: 2000,
  fayeRetrySeconds: 0.2,
  busyBackoffMs: 500,
  pollEveryMs: null,
  fullPassEveryMs: 24 * 3600_000,
  acTimeoutMs: 3000,
  bulkPollIntervalMs: 100,
  pullLingerMs: 0,
  webhookLingerMs: 0,
  jobLeaseMs: 3000,
};

export interface Sandbox {
  sf: SalesforceEmulator;
  ac: ActiveCampaignEmulator;
  /** Shifts ActiveCampaign's clock (its sdate/udate), e.g. to make a subscribe older than a Salesforce change. */
  acClock: { offsetMs: number };
  config: AppConfig;
  databaseUrl: string | null;
  app: RunningApp | null;
  logLines: string[];
  startApp(timing?: Partial<AppTiming>): Promise<RunningApp>;
  stopApp(): Promise<void>;
  close(): Promise<void>;
}

export async function startSandbox(
  engine: Engine,
  options: {
    sf?: SalesforceEmulatorOptions;
    ac?: ActiveCampaignEmulatorOptions;
    env?: Record<string, string>;
    /** Keep PGlite on disk so that the middleware can be restarted on the same data (slower first open). */
    persistent?: boolean;
    /** Event transport of the middleware; default SANDBOX_TRANSPORT from the environment, else cometd. */
    transport?: 'cometd' | 'pubsub';
  } = {},
): Promise<Sandbox> {
  // The Pub/Sub keepalive (Salesforce: within 270 s) is short here so that a new subscription is confirmed quickly.
  const sf = await startSalesforceEmulator({ connectTimeoutMs: 1000, clientExpiryMs: 5000, pubSub: { keepaliveMs: 500 }, ...options.sf });
  const transport = options.transport ?? (process.env.SANDBOX_TRANSPORT === 'pubsub' ? 'pubsub' : 'cometd');
  let pubSubEnv: Record<string, string> = {};
  if (transport === 'pubsub') {
    if (!sf.pubSubEndpoint || !sf.pubSubCaPem) throw new Error('the pubsub transport needs the emulator\'s Pub/Sub API');
    const caFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'optout-pubsub-ca-')), 'ca.pem');
    fs.writeFileSync(caFile, sf.pubSubCaPem);
    pubSubEnv = { SF_EVENT_TRANSPORT: 'pubsub', SF_PUBSUB_ENDPOINT: sf.pubSubEndpoint, SF_PUBSUB_CA_FILE: caFile };
  }
  const acClock = { offsetMs: 0 };
  const ac = await startActiveCampaignEmulator({ importProcessingMs: 200, importStatusUnsetMs: 50, now: () => new Date(Date.now() + acClock.offsetMs), ...options.ac });
  const dataDir = options.persistent === true && engine === 'pglite' ? fs.mkdtempSync(path.join(os.tmpdir(), 'optout-pglite-')) : null;
  const pg = engine === 'postgres' ? await createPostgresDatabase() : null;
  const port = await freePort();
  const config = parseConfig({
    SF_LOGIN_URL: sf.url,
    SF_CLIENT_ID: sf.clientId,
    SF_CLIENT_SECRET: sf.clientSecret,
    SF_API_VERSION: '62.0',
    AC_API_URL: ac.url,
    AC_API_TOKEN: ac.apiToken,
    DATABASE_URL: pg?.url,
    PGLITE_DATA_DIR: dataDir ?? 'memory://',
    HTTP_PORT: String(port),
    ADMIN_TOKEN: testSecrets.adminToken,
    WEBHOOK_SECRET: testSecrets.webhookSecret,
    AC_WEBHOOK_PUBLIC_URL: `http://127.0.0.1:${port}`,
    JOB_BACKOFF_BASE_MS: '50',
    JOB_MAX_ATTEMPTS: '4',
    LOG_LEVEL: 'debug',
    ...pubSubEnv,
    ...options.env,
  });
  const logLines: string[] = [];
  const sandbox: Sandbox = {
    sf,
    ac,
    acClock,
    config,
    databaseUrl: pg?.url ?? null,
    app: null,
    logLines,
    async startApp(timing) {
      const destination = { write: (line: string) => void logLines.push(line) };
      const { createLogger } = await import('../../src/observability/logger');
      const logger = createLogger({ level: 'debug', secrets: config.secrets, destination: destination as unknown as pino.DestinationStream });
      sandbox.app = await startApp(config, { logger, timing: { ...fastTiming, ...timing } });
      return sandbox.app;
    },
    async stopApp() {
      await sandbox.app?.stop();
      sandbox.app = null;
    },
    async close() {
      // Debugging aid: DUMP_SANDBOX_LOG=<file> keeps the middleware's debug log of every sandbox for reading after the run.
      if (process.env.DUMP_SANDBOX_LOG) fs.appendFileSync(process.env.DUMP_SANDBOX_LOG, logLines.join(''));
      await sandbox.stopApp();
      await Promise.all([sf.close(), ac.close()]);
      await pg?.drop();
      if (dataDir !== null) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return sandbox;
}
