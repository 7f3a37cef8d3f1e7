// `optout-sync sandbox`: the newcomer's first ten minutes. Starts both emulators as real servers with demo data,
// runs the REAL middleware against them on embedded PGlite, walks through a round trip on screen, then keeps
// everything running until Ctrl-C (or exits with --exit-after-demo, which the tests use).
// This is the only product code that wires the emulators up (DESIGN §2, "Sandbox").
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { parseConfig } from '../config/load-config';
import { startApp, type AppTiming, type RunningApp } from '../app/create-app';
import { createLogger, type Logger } from '../observability/logger';
import { startSandboxServers, type SandboxServers } from '../sandbox/run-sandbox-servers';
import { printTryItYourself, StepTimeoutError, walkThroughRoundTrip } from './sandbox-walkthrough';
import { applyScenario, showScenario } from './sandbox-scenario';
import type { OrgScenario } from '../sandbox/salesforce';
import { untilStopSignal } from './stop-signal';
import { ListenError } from '../server/listen';
import { errorText, type Terminal } from './terminal';

export interface SandboxOptions {
  sfPort: number;
  /** Port of the emulator's Pub/Sub API (gRPC over TLS). */
  pubSubPort: number;
  /** Event transport of the middleware: pubsub (the default, as for a new installation) or cometd. */
  transport: 'pubsub' | 'cometd';
  acPort: number;
  port: number;
  /** Interface of the emulators and the middleware (default 127.0.0.1). */
  host?: string;
  dataDir?: string;
  exitAfterDemo: boolean;
  verbose: boolean;
  stepTimeoutSeconds: number;
  /** Start the demo org with a real-org problem and show what the product reports, instead of the round trip. */
  scenario?: OrgScenario;
}

/**
 * Faster than production where it only costs the demo's own CPU: workers re-check their queues often and the
 * AC poller (the net under webhooks) runs every 5 s instead of every minute.
 */
const demoTiming: Partial<AppTiming> = { workerIdleMs: 200, pollEveryMs: 5000, bulkPollIntervalMs: 500 };

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitUntil(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function middlewareLogger(options: SandboxOptions, dataDir: string, secrets: string[]): { logger: Logger; logFile: string | null } {
  if (options.verbose) return { logger: createLogger({ level: 'debug', secrets }), logFile: null };
  const logFile = path.join(dataDir, 'middleware.log');
  // Synchronous writes: the demo logs little, and a file that is complete when the process exits is worth more.
  const destination = pino.destination({ dest: logFile, sync: true, mkdir: true });
  return { logger: createLogger({ level: 'info', secrets, destination }), logFile };
}

/**
 * The running sandbox's settings as an env file (tokens included, so readable by this user only): the admin
 * commands find the middleware's URL and token in it, and `check` and `backfill` its Salesforce and AC settings.
 */
function writeSandboxEnvFile(dataDir: string, settings: Record<string, string>, middlewareUrl: string): string {
  const file = path.join(dataDir, 'sandbox.env');
  const lines = [
    '# Written by `optout-sync sandbox` for the sandbox running now; its tokens change with every run.',
    `OPTOUT_SYNC_URL=${middlewareUrl.replace('://0.0.0.0:', '://127.0.0.1:')}`,
    ...Object.entries(settings).map(([name, value]) => `${name}=${value}`),
  ];
  fs.writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 });
  return file;
}

function printEnvFileUsage(terminal: Terminal, envFile: string): void {
  terminal.say('');
  terminal.say(`This sandbox's settings are in ${envFile}. From another terminal:`);
  for (const command of ['check', 'dead-letters list', 'reconcile', 'backfill --direction sf-to-ac --dry-run']) {
    terminal.say(`  npx optout-sync ${command} --env-file ${envFile}`);
  }
}

export async function runSandbox(terminal: Terminal, options: SandboxOptions): Promise<number> {
  const host = options.host ?? '127.0.0.1';
  const dataDir = path.resolve(options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'optout-sync-sandbox-')));
  fs.mkdirSync(dataDir, { recursive: true });

  terminal.say('optout-sync sandbox: the real middleware between a Salesforce emulator and an ActiveCampaign emulator.');
  let servers: SandboxServers;
  try {
    servers = await startSandboxServers({ host, salesforcePort: options.sfPort, pubSubPort: options.pubSubPort, activecampaignPort: options.acPort });
  } catch (error) {
    terminal.warn(`Could not start the emulators: ${errorText(error)}`);
    terminal.warn('Is another sandbox running? Pick other ports with --sf-port / --pubsub-port / --ac-port (0 = any free port).');
    return 1;
  }
  terminal.say(`  Salesforce emulator      ${servers.sf.url}   (demo org: ${Object.values(servers.demo.records).flat().length} Contacts and Leads)`);
  const subscribesHere = options.transport === 'pubsub' ? 'the middleware subscribes here' : 'not used: --transport cometd';
  terminal.say(`  Salesforce Pub/Sub API   ${servers.sf.pubSubEndpoint ?? 'off'}   (gRPC over TLS, certificate generated at start; ${subscribesHere})`);
  terminal.say(`  ActiveCampaign emulator  ${servers.ac.url}   (demo account: ${Object.keys(servers.demo.lists).length} lists, ${Object.keys(servers.demo.records).length} contacts)`);

  let app: RunningApp | null = null;
  try {
    if (options.scenario !== undefined) applyScenario(terminal, servers, options.scenario);
    const port = options.port === 0 ? await freePort(host) : options.port;
    // Generated per run: nothing in the sandbox uses a well-known secret.
    const adminToken = randomBytes(18).toString('base64url');
    const webhookSecret = randomBytes(18).toString('base64url');
    // The middleware trusts the emulator's generated certificate (and nothing else) for the Pub/Sub endpoint.
    const caFile = path.join(dataDir, 'pubsub-ca.pem');
    fs.writeFileSync(caFile, servers.sf.pubSubCaPem ?? '');
    const settings = {
      SF_EVENT_TRANSPORT: options.transport,
      ...(servers.sf.pubSubEndpoint ? { SF_PUBSUB_ENDPOINT: servers.sf.pubSubEndpoint } : {}),
      SF_PUBSUB_CA_FILE: caFile,
      SF_LOGIN_URL: servers.sf.url,
      SF_CLIENT_ID: servers.sf.clientId,
      SF_CLIENT_SECRET: servers.sf.clientSecret,
      SF_API_VERSION: servers.sf.apiVersion,
      AC_API_URL: servers.ac.url,
      AC_API_TOKEN: servers.ac.apiToken,
      AC_WEBHOOK_PUBLIC_URL: `http://${host}:${port}`,
      PGLITE_DATA_DIR: path.join(dataDir, 'pglite'),
      HTTP_HOST: host,
      HTTP_PORT: String(port),
      ADMIN_TOKEN: adminToken,
      WEBHOOK_SECRET: webhookSecret,
      JOB_BACKOFF_BASE_MS: '200',
    };
    const config = parseConfig(settings);
    const { logger, logFile } = middlewareLogger(options, dataDir, config.secrets);
    terminal.say(`  middleware               starting on embedded PGlite in ${config.database.kind === 'pglite' ? config.database.dataDir : ''}`);
    if (logFile !== null) terminal.say(`                           logs go to ${logFile} (--verbose shows them here)`);
    const started = Date.now();
    app = await startApp(config, { logger, timing: demoTiming });
    const running = app;
    await waitUntil('the Salesforce stream and the first ActiveCampaign poll', 60_000, async () => {
      const s = await running.status();
      return s.stream?.connected === true && s.lastPollAt !== null;
    });
    // AC never retries a webhook, so step 2 should not start before the hook exists (the poller would still
    // catch it, but later).
    await waitUntil('the ActiveCampaign webhook registration', 15_000, async () => {
      const response = await fetch(`${servers.ac.apiUrl}/webhooks`, { headers: { 'Api-Token': servers.ac.apiToken } });
      return response.ok && JSON.stringify(await response.json()).includes(`${host}:${port}`);
    });
    const transport = options.transport === 'pubsub' ? 'Pub/Sub API' : 'CometD';
    terminal.say(`  middleware               ${app.url} ready in ${((Date.now() - started) / 1000).toFixed(1)} s: streaming Salesforce changes over ${transport}, webhook registered in ActiveCampaign`);

    if (options.scenario !== undefined) await showScenario(terminal, servers, app, options.scenario, options.stepTimeoutSeconds * 1000);
    else await walkThroughRoundTrip(terminal, { servers, middlewareUrl: app.url, adminToken, logFile, stepTimeoutMs: options.stepTimeoutSeconds * 1000 });

    const envFile = writeSandboxEnvFile(dataDir, settings, app.url);
    if (!options.exitAfterDemo) {
      printTryItYourself(terminal, servers);
      printEnvFileUsage(terminal, envFile);
      terminal.say('');
      terminal.say('Everything keeps running. Ctrl-C stops it.');
      await untilStopSignal();
    }
    terminal.say('');
    terminal.say(`Stopping. The sandbox's database and logs stay in ${dataDir}.`);
    return 0;
  } catch (error) {
    terminal.warn('');
    if (error instanceof ListenError && error.code === 'EADDRINUSE') {
      terminal.warn(`The middleware's port ${options.port} is already in use on ${host} (is another sandbox running?): pick another with --port (0 = any free port).`);
      return 1;
    }
    terminal.warn(error instanceof StepTimeoutError ? `The round trip stopped at ${error.message}.` : `The sandbox failed: ${errorText(error)}`);
    terminal.warn(`Middleware logs: ${options.verbose ? 'above' : path.join(dataDir, 'middleware.log')}`);
    return 1;
  } finally {
    await app?.stop().catch(() => undefined);
    await servers.close().catch(() => undefined);
  }
}
