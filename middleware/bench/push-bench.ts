// `npm run bench:push` (issue 3 item 8): Salesforce -> ActiveCampaign against the emulators with realistic
// latencies (documented in support/bench-sandbox.ts: AC 150 ms a call and 5 requests/s, bulk import 3 s, SF REST
// 100 ms), the middleware in its own process on PGlite in a temp dir, webhooks registered as in production.
//
// (a) Latency: 200 single opt-outs, one every SINGLE_INTERVAL_MS, each a REST PATCH of HasOptedOutOfEmail by a
//     person (not the integration user). Latency = the PATCH's answer (the commit) -> the bench sees every AC list
//     of that email at status 2 (it checks the AC emulator's state every 10 ms). Each person is on 2 active lists,
//     so one opt-out costs 3 AC requests (one read with sideloaded lists, two POST /contactLists): one every
//     1 s is 3 requests/s, 60% of the 5/s account budget, which leaves room for the poller and webhook reads.
// (b) Mass: 10,000 Contacts opted out in one bulk update (collections PATCH of 200 records, 50 calls, as a
//     person). Wall time from the first PATCH to every AC list of every one of them at status 2. The contacts
//     were seeded before the middleware started, so its baseline poll put them in the snapshot (as in
//     production), which is what lets the backlog go through bulk import.
//     Ceiling (the best any client could do under AC's documented limits):
//       imports I = ceil(N / 250)                    250 contacts per bulk import
//       reads   V = ceil(N / 100)                     the import is verified by reading the contacts back, 100 a
//                                                     call (a list joined without a webhook must not stay active)
//       requests  = I * (1 + c) + V                   each import needs its POST and at least c = 1 status check
//       ceiling   = max(requests / R, 60 * floor((I - 1) / Q)) + P
//     with R = 5 requests/s (account), Q = 100 imports per rolling minute (import endpoint), P = the processing
//     time of the last batch (3 s here). For N = 10,000: I = 40, 80 requests = 16 s, the import limit does not
//     bind (40 <= 100), + 3 s = 19 s. mass_ratio = ceiling / actual (1.0 = at the ceiling).
// (c) AC requests per opt-out: every AC request that arrived during (a) (push path, webhook echo reads, polls)
//     divided by 200; the table splits it by purpose.
// (d) Peak RSS: VmHWM of the middleware process (/proc/<pid>/status), over the whole run.
//
// Prints a table, then as its very last line one JSON object (the format is fixed by issue 3).
import { z } from 'zod';
import { startBenchSandbox, seedPeople, until, waitUntilReady, queuesEmpty, realism, benchEngine, benchTransport } from './support/bench-sandbox';
import { acUsageBetween, describeUsage, dumpRequestLogIfAsked } from './support/ac-requests';
import { percentile, printTable, progress, round, elapsedSeconds, type Row } from './support/report';
import { patchRecord, patchCollection } from '../test/support/salesforce-user';

// Smaller runs for a quick check of the bench itself (the figures are for the defaults).
const knobs = z
  .object({ BENCH_SINGLE_COUNT: z.coerce.number().int().positive().default(200), BENCH_MASS_COUNT: z.coerce.number().int().positive().default(10_000) })
  .parse(process.env);
const SINGLE_COUNT = knobs.BENCH_SINGLE_COUNT;
const SINGLE_INTERVAL_MS = 1000;
const MASS_COUNT = knobs.BENCH_MASS_COUNT;
const LISTS_PER_PERSON = 2;
const IMPORT_SIZE = 250;
/** Contacts per verifying read after an import (GET /contacts?ids[]=, AC's page size). */
const VERIFY_READ_SIZE = 100;
const STATUS_CHECKS_PER_IMPORT = 1;

function massCeilingSeconds(n: number): number {
  const imports = Math.ceil(n / IMPORT_SIZE);
  const verifyingReads = Math.ceil(n / VERIFY_READ_SIZE);
  const requestBound = (imports * (1 + STATUS_CHECKS_PER_IMPORT) + verifyingReads) / realism.acRateLimitPerSecond;
  const importBound = 60 * Math.floor((imports - 1) / realism.importsPerMinute);
  return Math.max(requestBound, importBound) + realism.importProcessingMs / 1000;
}

async function main(): Promise<void> {
  const sandbox = await startBenchSandbox('push');
  const { sf, ac } = sandbox;
  try {
    const listIds = Array.from({ length: LISTS_PER_PERSON }, (_, i) => ac.createList(`Bench list ${i + 1}`).id);
    progress(`seeding ${SINGLE_COUNT + MASS_COUNT} people in both emulators`);
    const singles = seedPeople(sandbox, 'single', SINGLE_COUNT, listIds);
    const mass = seedPeople(sandbox, 'mass', MASS_COUNT, listIds);
    const allUnsubscribed = (email: string) => {
      const lists = ac.contactByEmail(email)?.lists ?? {};
      return listIds.every((id) => Number(lists[id]) === 2);
    };

    progress(`starting the middleware (${benchEngine === 'postgres' ? 'PostgreSQL' : 'PGlite in a temp dir'}, events over ${benchTransport === 'pubsub' ? 'the Pub/Sub API' : 'CometD'}) and waiting for its baseline poll`);
    const startedAt = Date.now();
    const middleware = await sandbox.startMiddleware({ webhooks: true });
    await waitUntilReady(middleware);
    const readySeconds = elapsedSeconds(startedAt);
    const rssAfterStart = middleware.memory();
    let rssSampledMax = rssAfterStart.rssMb;
    const sampler = setInterval(() => {
      try {
        rssSampledMax = Math.max(rssSampledMax, middleware.memory().rssMb);
      } catch {
        // the process is gone; the failure shows elsewhere
      }
    }, 1000);

    // The first incremental poll after the baseline re-reads every contact seeded within its overlap (about 100
    // pages here); production meets it once after install. (a) measures the steady state, so it starts after it.
    await middleware.pollNow();

    // (a) steady single opt-outs
    progress(`(a) ${SINGLE_COUNT} single opt-outs, one every ${SINGLE_INTERVAL_MS} ms`);
    const committedAt = new Map<string, number>();
    const latencies: number[] = [];
    const pending = new Set<string>();
    const watcher = setInterval(() => {
      const now = Date.now();
      for (const email of pending) {
        const at = committedAt.get(email);
        if (at !== undefined && allUnsubscribed(email)) {
          latencies.push(now - at);
          pending.delete(email);
        }
      }
    }, 10);
    const aStart = Date.now();
    const patches: Promise<void>[] = [];
    for (let i = 0; i < singles.length; i++) {
      const person = singles[i]!;
      const due = aStart + i * SINGLE_INTERVAL_MS;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
      pending.add(person.email);
      patches.push(patchRecord(sf, 'Contact', person.contactId, { HasOptedOutOfEmail: true }).then(() => void committedAt.set(person.email, Date.now())));
    }
    await Promise.all(patches);
    await until(() => pending.size === 0, 'every single opt-out to reach AC', 120_000, 50);
    clearInterval(watcher);
    const aDone = Date.now();
    await until(() => queuesEmpty(middleware), 'the queues to drain after (a)', 120_000, 250);
    await ac.webhooksIdle();
    const aUsage = acUsageBetween(ac, aStart, Date.now());
    const aPushRequests = [...aUsage.byPurpose].filter(([p]) => p.startsWith('push:')).reduce((sum, [, n]) => sum + n, 0);
    const rssAfterA = middleware.memory();
    progress(`(a) done: p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms over ${latencies.length} opt-outs; ${aPushRequests} push-path AC requests`);

    // (b) one bulk update of 10,000 records
    progress('(b) refreshing the snapshot with a poll, then opting out 10,000 contacts in one bulk update');
    await middleware.pollNow();
    // When the intake has queued the last of the 10,000 (the push-email jobs counter): what the transport adds, apart
    // from what AC's limits take.
    const queuedPushJobs = async () => Number(/^optout_jobs_queued_total\{kind="push-email"\} (\d+)/m.exec(await middleware.metricsText())?.[1] ?? 0);
    const queuedBefore = await queuedPushJobs();
    const intake: { queuedAt: number | null } = { queuedAt: null };
    const intakeWatch = setInterval(() => {
      queuedPushJobs()
        .then((n) => {
          if (intake.queuedAt === null && n - queuedBefore >= MASS_COUNT) intake.queuedAt = Date.now();
        })
        .catch(() => undefined);
    }, 250);
    const bStart = Date.now();
    await patchCollection(sf, mass.map((p) => ({ type: 'Contact', id: p.contactId, fields: { HasOptedOutOfEmail: true } })));
    const bCommitted = Date.now();
    const remaining = new Set(mass.map((p) => p.email));
    let lastReport = Date.now();
    await until(() => {
      // The AC emulator looks contacts and memberships up by linear scan, so checking all 10,000 each round would
      // starve its event loop: check in seeding order and stop at the first one not done yet (imports complete
      // in about that order), which costs each email one successful check in total.
      for (const email of remaining) {
        if (!allUnsubscribed(email)) break;
        remaining.delete(email);
      }
      if (Date.now() - lastReport > 10_000) {
        lastReport = Date.now();
        progress(`(b) ${MASS_COUNT - remaining.size} of ${MASS_COUNT} unsubscribed after ${Math.round(elapsedSeconds(bStart))} s`);
      }
      return remaining.size === 0;
    }, 'every mass opt-out to reach AC', 30 * 60_000, 500);
    const bDone = Date.now();
    clearInterval(intakeWatch);
    const bUsage = acUsageBetween(ac, bStart, bDone);
    const massSeconds = elapsedSeconds(bStart, bDone);
    const ceiling = massCeilingSeconds(MASS_COUNT);
    await until(() => queuesEmpty(middleware), 'the queues to drain after (b)', 10 * 60_000, 500);
    clearInterval(sampler);
    const final = middleware.memory();

    const result = {
      bench: 'push',
      latency_p50_ms: Math.round(percentile(latencies, 50)),
      latency_p99_ms: Math.round(percentile(latencies, 99)),
      mass_contacts: MASS_COUNT,
      mass_seconds: round(massSeconds, 1),
      mass_ceiling_seconds: round(ceiling, 1),
      mass_ratio: round(ceiling / massSeconds, 2),
      ac_requests_per_optout: round(aUsage.total / SINGLE_COUNT, 2),
      peak_rss_mb: round(final.peakRssMb, 1),
    };
    const rows: Row[] = [
      ['event transport', benchTransport === 'pubsub' ? 'Pub/Sub API (gRPC)' : 'CometD', 'BENCH_TRANSPORT'],
      ['setup: middleware ready (stream + baseline poll)', `${round(readySeconds, 1)} s`, `${SINGLE_COUNT + MASS_COUNT} AC contacts on ${LISTS_PER_PERSON} lists each`],
      ['(a) single opt-outs', SINGLE_COUNT, `one every ${SINGLE_INTERVAL_MS} ms, ${LISTS_PER_PERSON} active lists each`],
      ['(a) latency p50', `${result.latency_p50_ms} ms`, 'SF commit -> every AC list at status 2'],
      ['(a) latency p90', `${Math.round(percentile(latencies, 90))} ms`],
      ['(a) latency p99', `${result.latency_p99_ms} ms`, 'target <= 3000 ms'],
      ['(a) latency max', `${Math.round(Math.max(...latencies))} ms`],
      ['(a) wall time', `${round(elapsedSeconds(aStart, aDone), 1)} s`],
      ['(a) AC requests, all', aUsage.total, describeUsage(aUsage)],
      ['(a) AC requests per opt-out, all', result.ac_requests_per_optout],
      ['(a) AC requests per opt-out, push path', round(aPushRequests / SINGLE_COUNT, 2), 'find contact + POST per active list'],
      ['(a) AC 429 answers', aUsage.throttled],
      ['(a) webhook deliveries AC sent to the middleware', ac.webhookDeliveries.filter((d) => d.sentAt.getTime() >= aStart && d.sentAt.getTime() < aDone).length],
      [`(b) SF bulk update (${Math.ceil(MASS_COUNT / 200)} collections PATCH)`, `${round(elapsedSeconds(bStart, bCommitted), 1)} s`, 'counted in mass_seconds'],
      ['(b) intake: every opt-out queued', intake.queuedAt === null ? 'not seen' : `${round(elapsedSeconds(bStart, intake.queuedAt), 1)} s`, 'first PATCH -> the last push job stored (event transport + intake)'],
      ['(b) mass opt-out wall time', `${result.mass_seconds} s`, `first PATCH -> ${MASS_COUNT} contacts at status 2 on every list`],
      ['(b) ceiling', `${result.mass_ceiling_seconds} s`, `max((${Math.ceil(MASS_COUNT / IMPORT_SIZE)} imports x 2 requests + ${Math.ceil(MASS_COUNT / VERIFY_READ_SIZE)} verifying reads) / ${realism.acRateLimitPerSecond}/s, import limit) + ${realism.importProcessingMs / 1000} s processing`],
      ['(b) mass_ratio (ceiling / actual)', result.mass_ratio, 'target >= 0.8'],
      ['(b) AC requests', bUsage.total, describeUsage(bUsage)],
      ['(b) AC 429 answers', bUsage.throttled],
      ['RSS after start', `${round(rssAfterStart.rssMb, 1)} MB`],
      ['RSS after (a)', `${round(rssAfterA.rssMb, 1)} MB`, `peak so far ${round(rssAfterA.peakRssMb, 1)} MB`],
      ['store engine', sandbox.engine],
      ...(sandbox.firstStartPeakRssMb !== null ? ([['peak RSS of the first start (PGlite initdb, once per install)', `${round(sandbox.firstStartPeakRssMb, 1)} MB`, 'not in peak_rss_mb']] as Row[]) : []),
      ['peak RSS (VmHWM, middleware process)', `${result.peak_rss_mb} MB`, `target <= 150 MB; highest 1 s sample ${round(rssSampledMax, 1)} MB`],
    ];
    printTable('bench:push - Salesforce -> ActiveCampaign', rows);
    console.log(JSON.stringify(result));
  } finally {
    dumpRequestLogIfAsked(ac);
    await sandbox.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exit(1);
});
