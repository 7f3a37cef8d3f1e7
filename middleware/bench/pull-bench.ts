// `npm run bench:pull` (issue 4 item 7): ActiveCampaign -> Salesforce against the emulators with realistic
// latencies (documented in support/bench-sandbox.ts: AC 150 ms a call and 5 requests/s, SF REST 100 ms), the
// middleware in its own process on PGlite in a temp dir, polling AC every 10 s with a 15 s overlap.
//
// 10,000 people, each an AC contact on 2 active lists and a Salesforce Contact with the same email, are seeded
// before the middleware starts (its baseline poll records them, writing nothing to Salesforce). Then each of them
// unsubscribes from all lists in AC, as a person does with the unsubscribe link (source "public").
// Webhooks are ON (BENCH_WEBHOOKS=off to compare): production registers its webhook, and AC sends one delivery
// per list left, so 20,000 deliveries reach the middleware while the poller also sees every change.
//
// Figures: `seconds` = first unsubscribe -> every Salesforce Contact has HasOptedOutOfEmail = true;
// `sf_write_calls` = collections PATCH calls the middleware made from the first unsubscribe until everything
// settled (queues empty); `sf_query_calls` = SOQL query calls in that window; `idle_poll_ac_calls` = AC requests
// of one poll once everything settled and the overlap window has passed; `peak_rss_mb` = VmHWM of the middleware
// process. Prints a table, then as its very last line one JSON object (the format is fixed by issue 4).
import { z } from 'zod';
import { startBenchSandbox, seedPeople, until, waitUntilReady, queuesEmpty, realism } from './support/bench-sandbox';
import { acUsageBetween, describeUsage, dumpRequestLogIfAsked } from './support/ac-requests';
import { printTable, progress, round, elapsedSeconds, type Row } from './support/report';

const knobs = z
  .object({
    BENCH_CONTACTS: z.coerce.number().int().positive().default(10_000),
    BENCH_WEBHOOKS: z.enum(['on', 'off']).default('on'),
  })
  .parse(process.env);
const CONTACTS = knobs.BENCH_CONTACTS;
const LISTS_PER_PERSON = 2;

async function main(): Promise<void> {
  const sandbox = await startBenchSandbox('pull');
  const { sf, ac } = sandbox;
  try {
    const listIds = Array.from({ length: LISTS_PER_PERSON }, (_, i) => ac.createList(`Bench list ${i + 1}`).id);
    progress(`seeding ${CONTACTS} people in both emulators`);
    const people = seedPeople(sandbox, 'pull', CONTACTS, listIds);

    progress(`starting the middleware (webhooks ${knobs.BENCH_WEBHOOKS}) and waiting for its baseline poll`);
    const startedAt = Date.now();
    const middleware = await sandbox.startMiddleware({ webhooks: knobs.BENCH_WEBHOOKS === 'on' });
    await waitUntilReady(middleware);
    const readySeconds = elapsedSeconds(startedAt);
    const rssAfterStart = middleware.memory();
    const sfLogAtStart = sf.requestLog.length;

    progress(`${CONTACTS} contacts unsubscribe from all lists in AC`);
    const t0 = Date.now();
    for (const person of people) ac.unsubscribe(person.email, 'all');
    const lastChangeAt = Date.now();
    const remaining = new Set(people.map((p) => p.contactId));
    let lastReport = Date.now();
    await until(() => {
      for (const id of remaining) if (sf.get('Contact', id)?.HasOptedOutOfEmail === true) remaining.delete(id);
      if (Date.now() - lastReport > 10_000) {
        lastReport = Date.now();
        progress(`${CONTACTS - remaining.size} of ${CONTACTS} Salesforce records opted out after ${Math.round(elapsedSeconds(t0))} s`);
      }
      return remaining.size === 0;
    }, 'every Salesforce record to be opted out', 30 * 60_000, 250);
    const doneAt = Date.now();
    const seconds = elapsedSeconds(t0, doneAt);

    progress('waiting for the queues to drain and the overlap window to pass');
    await until(() => queuesEmpty(middleware), 'the queues to drain', 30 * 60_000, 500);
    const settledAt = Date.now();
    await until(() => Date.now() > lastChangeAt + (realism.pollOverlapSeconds + 2) * 1000, 'the overlap window to pass', 60_000, 250);
    // A scheduled poll may be running: pollNow joins it, so wait for a quiet moment and poll twice; count the second.
    await middleware.pollNow();
    const idleFrom = Date.now();
    await middleware.pollNow();
    const idleTo = Date.now();
    const idleUsage = acUsageBetween(ac, idleFrom, idleTo + 1);
    const idlePollCalls = idleUsage.byPurpose.get('poll: contacts page') ?? 0;

    const sfWindow = sf.requestLog.filter((r) => Date.parse(r.at) >= t0 && Date.parse(r.at) <= settledAt);
    if (sf.requestLog.length >= 10_000 && sfLogAtStart > 0) progress('warning: the Salesforce request log reached its 10,000-entry cap; counts may be low');
    const isWrite = (r: { method: string; path: string }) => r.method === 'PATCH' && r.path.includes('/composite/sobjects');
    const isQuery = (r: { method: string; path: string }) => r.method === 'GET' && /\/services\/data\/v[\d.]+\/query/.test(r.path);
    const sfWrites = sfWindow.filter(isWrite).length;
    const sfQueries = sfWindow.filter(isQuery).length;
    const sfWritesUntilDone = sfWindow.filter((r) => Date.parse(r.at) <= doneAt && isWrite(r)).length;
    const acWindow = acUsageBetween(ac, t0, settledAt);
    const final = middleware.memory();

    const result = {
      bench: 'pull',
      contacts: CONTACTS,
      seconds: round(seconds, 1),
      sf_write_calls: sfWrites,
      sf_query_calls: sfQueries,
      idle_poll_ac_calls: idlePollCalls,
      peak_rss_mb: round(final.peakRssMb, 1),
    };
    const rows: Row[] = [
      ['setup: middleware ready (stream + baseline poll)', `${round(readySeconds, 1)} s`, `${CONTACTS} AC contacts on ${LISTS_PER_PERSON} lists each`],
      ['webhooks', knobs.BENCH_WEBHOOKS, `${ac.webhookDeliveries.filter((d) => d.sentAt.getTime() >= t0).length} deliveries sent to the middleware`],
      ['unsubscribes (all lists, source public)', CONTACTS, `took ${round(elapsedSeconds(t0, lastChangeAt), 1)} s in the emulator`],
      ['time until every SF record is opted out', `${result.seconds} s`],
      ['time until the queues were empty', `${round(elapsedSeconds(t0, settledAt), 1)} s`],
      ['SF collections PATCH calls', sfWrites, `target <= 50; ${sfWritesUntilDone} until every record was opted out`],
      ['SF query calls', sfQueries],
      ['SF API calls, all', sfWindow.filter((r) => r.path.startsWith('/services/data')).length],
      ['AC requests until settled', acWindow.total, describeUsage(acWindow)],
      ['AC 429 answers until settled', acWindow.throttled],
      ['AC requests of one idle poll', idlePollCalls, `target <= 1; all AC requests in that poll's window: ${idleUsage.total}`],
      ['store engine', sandbox.engine],
      ['RSS after start', `${round(rssAfterStart.rssMb, 1)} MB`],
      ...(sandbox.firstStartPeakRssMb !== null ? ([['peak RSS of the first start (PGlite initdb, once per install)', `${round(sandbox.firstStartPeakRssMb, 1)} MB`, 'not in peak_rss_mb']] as Row[]) : []),
      ['peak RSS (VmHWM, middleware process)', `${result.peak_rss_mb} MB`, 'target <= 150 MB'],
    ];
    printTable('bench:pull - ActiveCampaign -> Salesforce', rows);
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
