// The world a benchmark runs in: both emulators in the bench process with realistic latencies, and the real
// middleware in a child process (so that its RSS is its own), configured through the environment as in production.
//
// Latencies and limits (why these numbers):
// - ActiveCampaign: every /api/3 call answers after 150 ms (the emulator's latency fault on every route). AC's
//   API is hosted in the US; 100-200 ms per call is what integrations commonly report, 150 ms is the middle.
//   Account rate limit 5 requests/s (the emulator default, AC's documented limit), sliding one-second window.
// - ActiveCampaign bulk import: a batch completes 3 s after it was queued ("a few seconds"; AC documents no
//   figure, only that the import is asynchronous), and /import/info answers `status: false` for the first 300 ms
//   as AC's docs warn. 100 multi-contact imports per minute (documented).
// - Salesforce REST: 100 ms added to every /services/data call (a typical REST round trip from a cloud host to
//   a Salesforce pod). CometD is not delayed beyond its own long-poll.
// - The middleware runs with production timing except that it polls AC every 10 s instead of every minute
//   (so the bench doesn't spend its time waiting for the cron), with a 15 s overlap instead of 120 s: the overlap
//   keeps the production ratio of overlap to poll interval, so each change is re-read about as often as in
//   production. Webhooks are registered (realistic): the middleware's URL is given as AC_WEBHOOK_PUBLIC_URL.
// - Transport: BENCH_TRANSPORT=cometd (default) or pubsub. On pubsub the emulator's Pub/Sub API sends its
//   keepalive every 60 s (Salesforce: "within 270 s"; field reports see about 60 s), which only delays the first
//   confirmation of a new LATEST subscription (start-up), not the delivery of events.
// - Process: the compiled middleware on plain node with the production node flags (compiled-child.ts).
// - Store: PGlite in a temp dir (the default engine). Its first ever open runs initdb, a one-off spike of several
//   hundred MB; production meets it once per install. The bench therefore creates the data dir with a first,
//   short start (its peak is reported on its own line) and measures the run on a restart, as an instance runs
//   after its first day. BENCH_ENGINE=postgres runs the same bench on PostgreSQL (TEST_POSTGRES_URL or the local
//   server), which shows the Node process's own memory without the embedded database.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSalesforceEmulator, type SalesforceEmulator } from '../../src/sandbox/salesforce';
import { startActiveCampaignEmulator, type ActiveCampaignEmulator } from '../../src/sandbox/activecampaign';
import { z } from 'zod';
import { freePort, testSecrets } from '../../test/support/sandbox-harness';
import { createPostgresDatabase } from '../../test/support/test-databases';
import { startMiddlewareProcess, type MiddlewareProcess } from './middleware-process';
import type { BenchTiming } from './ipc-messages';
import { compileMiddlewareChild, productionNodeFlags } from './compiled-child';

export const realism = {
  acLatencyMs: 150,
  acRateLimitPerSecond: 5,
  importProcessingMs: 3000,
  importStatusUnsetMs: 300,
  importsPerMinute: 100,
  sfLatencyMs: 100,
  pollEveryMs: 10_000,
  pollOverlapSeconds: 15,
} as const;

export const benchEngine = z.object({ BENCH_ENGINE: z.enum(['pglite', 'postgres']).default('pglite') }).parse(process.env).BENCH_ENGINE;
export const benchTransport = z.object({ BENCH_TRANSPORT: z.enum(['cometd', 'pubsub']).default('cometd') }).parse(process.env).BENCH_TRANSPORT;

export interface BenchSandbox {
  sf: SalesforceEmulator;
  ac: ActiveCampaignEmulator;
  workDir: string;
  engine: typeof benchEngine;
  middleware: MiddlewareProcess | null;
  /** Peak RSS (MiB) of the first start that created the store (PGlite initdb); null on PostgreSQL. */
  firstStartPeakRssMb: number | null;
  startMiddleware(options?: { webhooks?: boolean; env?: Record<string, string> }): Promise<MiddlewareProcess>;
  close(): Promise<void>;
}

export async function startBenchSandbox(name: string): Promise<BenchSandbox> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `optout-bench-${name}-`));
  // The CometD hold and client expiry are Salesforce's (110 s / 40 s); the middleware's watchdog matches them.
  const sf = await startSalesforceEmulator({ connectTimeoutMs: 110_000, clientExpiryMs: 40_000, pubSub: { keepaliveMs: 60_000 } });
  sf.setLatency(realism.sfLatencyMs);
  const ac = await startActiveCampaignEmulator({
    rateLimitPerSecond: realism.acRateLimitPerSecond,
    importProcessingMs: realism.importProcessingMs,
    importStatusUnsetMs: realism.importStatusUnsetMs,
    importMultiPerWindow: realism.importsPerMinute,
  });
  ac.setFault({ latencyMs: realism.acLatencyMs });

  const compiledChild = compileMiddlewareChild();
  const pg = benchEngine === 'postgres' ? await createPostgresDatabase() : null;
  const storeEnv: Record<string, string> = pg !== null ? { DATABASE_URL: pg.url } : { PGLITE_DATA_DIR: path.join(workDir, 'pglite') };
  let transportEnv: Record<string, string> = { SF_EVENT_TRANSPORT: 'cometd' };
  if (benchTransport === 'pubsub') {
    const caFile = path.join(workDir, 'pubsub-ca.pem');
    fs.writeFileSync(caFile, sf.pubSubCaPem ?? '');
    transportEnv = { SF_EVENT_TRANSPORT: 'pubsub', SF_PUBSUB_ENDPOINT: sf.pubSubEndpoint ?? '', SF_PUBSUB_CA_FILE: caFile };
  }

  const sandbox: BenchSandbox = {
    sf,
    ac,
    workDir,
    engine: benchEngine,
    middleware: null,
    firstStartPeakRssMb: null,
    async startMiddleware({ webhooks = true, env = {} } = {}) {
      const port = await freePort();
      const timing: BenchTiming = { pollEveryMs: realism.pollEveryMs, fullPassEveryMs: 24 * 3600_000 };
      const start = () => startMiddlewareProcess({
        logFile: path.join(workDir, 'middleware.log'),
        compiledChild,
        nodeFlags: productionNodeFlags,
        timing,
        env: {
          SF_LOGIN_URL: sf.url,
          SF_CLIENT_ID: sf.clientId,
          SF_CLIENT_SECRET: sf.clientSecret,
          SF_API_VERSION: sf.apiVersion,
          AC_API_URL: ac.url,
          AC_API_TOKEN: ac.apiToken,
          AC_POLL_OVERLAP_SECONDS: String(realism.pollOverlapSeconds),
          ...storeEnv,
          ...transportEnv,
          HTTP_PORT: String(port),
          ADMIN_TOKEN: testSecrets.adminToken,
          WEBHOOK_SECRET: testSecrets.webhookSecret,
          ...(webhooks ? { AC_WEBHOOK_PUBLIC_URL: `http://127.0.0.1:${port}` } : {}),
          LOG_LEVEL: 'warn',
          ...env,
        },
      });
      if (pg === null && sandbox.firstStartPeakRssMb === null) {
        const first = await start();
        sandbox.firstStartPeakRssMb = first.memory().peakRssMb;
        await first.stop();
      }
      sandbox.middleware = await start();
      return sandbox.middleware;
    },
    async close() {
      await sandbox.middleware?.stop();
      await Promise.all([sf.close(), ac.close()]);
      await pg?.drop();
      fs.rmSync(workDir, { recursive: true, force: true });
    },
  };
  return sandbox;
}

/** Waits for a condition with a bounded poll (the benches never sleep to synchronise). */
export async function until<T>(probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, what: string, timeoutMs: number, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined && value !== false) return value as T;
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Ready = the stream is connected and the first (baseline) poll has recorded the AC snapshot. */
export async function waitUntilReady(middleware: MiddlewareProcess, timeoutMs = 300_000): Promise<void> {
  await until(async () => {
    const s = await middleware.status();
    return s.stream?.connected === true && s.lastPollAt !== null;
  }, 'the stream to connect and the baseline poll to finish', timeoutMs, 250);
}

export async function queuesEmpty(middleware: MiddlewareProcess): Promise<boolean> {
  const s = await middleware.status();
  return s.queue.every((q) => q.n === 0 || q.state === 'dead' || q.state === 'done');
}

/** Seeds `count` people known to both systems: an AC contact on every given list (active) and a Salesforce Contact. */
export function seedPeople(sandbox: BenchSandbox, prefix: string, count: number, listIds: string[]): { email: string; contactId: string }[] {
  const people: { email: string; contactId: string }[] = [];
  const lists = Object.fromEntries(listIds.map((id) => [id, 1 as const]));
  for (let i = 0; i < count; i++) {
    const email = `${prefix}${i}@bench.example.com`;
    sandbox.ac.createContact(email, { lists });
    const record = sandbox.sf.insert('Contact', { LastName: `${prefix}${i}`, Email: email, HasOptedOutOfEmail: false });
    people.push({ email, contactId: String(record.Id) });
  }
  return people;
}
