// `npm run bench:reconcile` (issue 16 item 5): the full reconciliation over 100,000 people (BENCH_PEOPLE) against
// the emulators with the latencies of support/bench-sandbox.ts (AC 150 ms a call and 5 requests/s, SF REST 100 ms),
// the middleware in its own process on PGlite.
//
// Seeded before the middleware starts, so that neither the stream nor the baseline poll sees it (drift as an outage
// or a lost event leaves it): every person is an AC contact on 2 lists and a Salesforce Contact. Most are in step
// (active in AC, opted in in Salesforce); BENCH_DRIFT_PER_MILLE of them (default 5, i.e. 0.5%) drift each way:
// - sf-to-ac: opted out in Salesforce, still active in AC (R1 lost);
// - ac-to-sf: unsubscribed from all lists in AC, opted in in Salesforce (R3 lost);
// and as many again are opted out on both sides (in step, must not be touched). Webhooks are off (BENCH_WEBHOOKS=on
// to register them): this measures the pass and its fixes, not the live paths.
//
// Figures: `seconds` = the admin API's POST /admin/reconcile/full -> every planted drift fixed in the emulators (the
// pass, queueing and the workers' fixes); `ceiling_seconds` = the AC contact pages the pass must read (100 contacts a
// page) / 5 requests/s; `drift_fixed` = planted drifts found fixed; `wrong_fixes` = people without planted drift whose
// Salesforce value or AC list statuses changed; `ac_requests` = every AC request in the window; `sf_api_calls` = every
// Salesforce REST call in the window (the pass's Bulk API 2.0 calls and the pull worker's writes); `peak_rss_mb` =
// VmHWM of the middleware process. Prints a table, then as its very last line one JSON object.
import { z } from 'zod';
import { startBenchSandbox, until, waitUntilReady, queuesEmpty } from './support/bench-sandbox';
import { acUsageBetween, describeUsage, dumpRequestLogIfAsked } from './support/ac-requests';
import { printTable, progress, round, elapsedSeconds, type Row } from './support/report';
import { testSecrets } from '../test/support/sandbox-harness';
import { reconcileStateSchema } from '../src/reconcile/reconcile-report';

const knobs = z
  .object({
    BENCH_PEOPLE: z.coerce.number().int().positive().default(100_000),
    BENCH_DRIFT_PER_MILLE: z.coerce.number().int().min(1).max(100).default(5),
    BENCH_WEBHOOKS: z.enum(['on', 'off']).default('off'),
  })
  .parse(process.env);
const PEOPLE = knobs.BENCH_PEOPLE;
const AC_PAGE = 100;
const AC_RATE = 5;

type Kind = 'in-step' | 'sf-to-ac' | 'ac-to-sf' | 'both-out';
interface Person {
  email: string;
  contactId: string;
  kind: Kind;
}

/** Every 1000 people: drift-per-mille of each drift kind and of both-out, spread evenly over the id order. */
function kindOf(i: number): Kind {
  const slot = i % 1000;
  const n = knobs.BENCH_DRIFT_PER_MILLE;
  if (slot < n) return 'sf-to-ac';
  if (slot >= 250 && slot < 250 + n) return 'ac-to-sf';
  if (slot >= 500 && slot < 500 + n) return 'both-out';
  return 'in-step';
}

async function admin(url: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${testSecrets.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}`);
  return response.json();
}

async function main(): Promise<void> {
  const sandbox = await startBenchSandbox('reconcile');
  const { sf, ac } = sandbox;
  try {
    const listIds = [ac.createList('Bench list 1').id, ac.createList('Bench list 2').id];
    progress(`seeding ${PEOPLE} people in both emulators`);
    const people: Person[] = [];
    for (let i = 0; i < PEOPLE; i++) {
      const kind = kindOf(i);
      const email = `reconcile${i}@bench.example.com`;
      const status = kind === 'ac-to-sf' || kind === 'both-out' ? 2 : 1;
      ac.createContact(email, { lists: Object.fromEntries(listIds.map((id) => [id, status])) as Record<string, 1 | 2> });
      const record = sf.insert('Contact', { LastName: `Reconcile${i}`, Email: email, HasOptedOutOfEmail: kind === 'sf-to-ac' || kind === 'both-out' });
      people.push({ email, contactId: String(record.Id), kind });
    }
    const planted = people.filter((p) => p.kind === 'sf-to-ac' || p.kind === 'ac-to-sf');

    progress(`starting the middleware (webhooks ${knobs.BENCH_WEBHOOKS}) and waiting for its baseline poll`);
    const startedAt = Date.now();
    const middleware = await sandbox.startMiddleware({ webhooks: knobs.BENCH_WEBHOOKS === 'on', env: { RECONCILE_CRON: 'off' } });
    await waitUntilReady(middleware, 30 * 60_000);
    const readySeconds = elapsedSeconds(startedAt);
    const rssAfterStart = middleware.memory();
    // The first polls after start re-read everything seeded inside their overlap window; a production pass runs
    // beside an idle poller (one page a poll), so the pass starts once a poll interval passes with at most one page.
    progress('waiting for the poller to be idle');
    await until(() => {
      const now = Date.now();
      return now - startedAt > 20_000 && (acUsageBetween(ac, now - 12_000, now).byPurpose.get('poll: contacts page') ?? 0) <= 2;
    }, 'an idle poller', 30 * 60_000, 1000);

    progress(`full reconciliation: ${planted.length} drift(s) planted`);
    const sfCallsBefore = sf.apiCallCount();
    const t0 = Date.now();
    await admin(middleware.url, 'POST', '/admin/reconcile/full', { dryRun: false });
    let lastReport = Date.now();
    const state = await until(async () => {
      const s = reconcileStateSchema.parse(await admin(middleware.url, 'GET', '/admin/reconcile/full'));
      if (Date.now() - lastReport > 15_000 && s.progress !== null) {
        lastReport = Date.now();
        progress(`pass: ${s.progress.phase}, ${s.progress.done} read after ${Math.round(elapsedSeconds(t0))} s`);
      }
      return s.running ? null : s;
    }, 'the pass to finish', 60 * 60_000, 500);
    const passDoneAt = Date.now();
    if (state.last === null) throw new Error(`the pass failed: ${state.lastError ?? 'no report'}`);
    const isFixed = (p: Person) => (p.kind === 'sf-to-ac' ? listIds.every((id) => ac.contactByEmail(p.email)?.lists[id] === 2) : sf.get('Contact', p.contactId)?.HasOptedOutOfEmail === true);
    const remaining = new Set(planted);
    await until(() => {
      for (const p of remaining) if (isFixed(p)) remaining.delete(p);
      return remaining.size === 0;
    }, 'every planted drift to be fixed', 30 * 60_000, 250).catch((error: unknown) => progress(String(error)));
    const doneAt = Date.now();
    const seconds = elapsedSeconds(t0, doneAt);
    await until(() => queuesEmpty(middleware), 'the queues to drain', 10 * 60_000, 500);
    const settledAt = Date.now();

    const wrong = people.filter((p) => {
      if (p.kind === 'sf-to-ac' || p.kind === 'ac-to-sf') return false;
      const optedOut = sf.get('Contact', p.contactId)?.HasOptedOutOfEmail === true;
      const lists = ac.contactByEmail(p.email)?.lists ?? {};
      const expected = p.kind === 'both-out' ? 2 : 1;
      return optedOut !== (p.kind === 'both-out') || listIds.some((id) => lists[id] !== expected);
    });
    const acWindow = acUsageBetween(ac, t0, settledAt);
    const ceiling = Math.ceil(PEOPLE / AC_PAGE) / AC_RATE;
    const final = middleware.memory();
    const report = state.last;
    const result = {
      bench: 'reconcile',
      people: PEOPLE,
      drift_planted: planted.length,
      drift_fixed: planted.length - remaining.size,
      wrong_fixes: wrong.length,
      ac_requests: acWindow.total,
      sf_api_calls: sf.apiCallCount() - sfCallsBefore,
      seconds: round(seconds, 1),
      ceiling_seconds: round(ceiling, 1),
      peak_rss_mb: round(final.peakRssMb, 1),
    };
    const rows: Row[] = [
      ['setup: middleware ready (stream + baseline poll)', `${round(readySeconds, 1)} s`, `${PEOPLE} people, AC contacts on ${listIds.length} lists each`],
      ['drift planted sf-to-ac / ac-to-sf', `${planted.filter((p) => p.kind === 'sf-to-ac').length} / ${planted.filter((p) => p.kind === 'ac-to-sf').length}`, `plus ${people.filter((p) => p.kind === 'both-out').length} opted out on both sides (in step)`],
      ['drift found sf-to-ac / ac-to-sf', `${report.drift.sfToAc} / ${report.drift.acToSf}`, `${report.compared} people compared`],
      ['drift fixed', result.drift_fixed, `of ${planted.length}`],
      ['wrong fixes', result.wrong_fixes, 'target 0'],
      ['pass (read + judge + queue)', `${round(elapsedSeconds(t0, passDoneAt), 1)} s`, `${report.acRequests} AC pages`],
      ['seconds until every drift fixed', `${result.seconds} s`, `target <= ${round(1.5 * ceiling, 1)} s (1.5 x ceiling ${result.ceiling_seconds} s)`],
      ['seconds until the queues were empty', `${round(elapsedSeconds(t0, settledAt), 1)} s`],
      ['AC requests in the window', acWindow.total, describeUsage(acWindow)],
      ['AC 429 answers', acWindow.throttled],
      ['SF API calls in the window', result.sf_api_calls, 'Bulk API 2.0 query jobs + pull writes'],
      ['store engine', sandbox.engine],
      ['RSS after start', `${round(rssAfterStart.rssMb, 1)} MB`],
      ...(sandbox.firstStartPeakRssMb !== null ? ([['peak RSS of the first start (PGlite initdb, once per install)', `${round(sandbox.firstStartPeakRssMb, 1)} MB`, 'not in peak_rss_mb']] as Row[]) : []),
      ['peak RSS (VmHWM, middleware process)', `${result.peak_rss_mb} MB`, 'target <= 300 MB'],
    ];
    printTable('bench:reconcile - full reconciliation', rows);
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
