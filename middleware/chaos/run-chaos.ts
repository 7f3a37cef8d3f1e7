// `npm run chaos`: the full chaos run of issue 8 item 4 (about 2,000 changes, several kills, a 30 s outage). Prints
// a table and, as its very last line, one JSON object with the figures. CHAOS_SEED replays a run's choices;
// CHAOS_CHANGES changes its length. Needs PostgreSQL (TEST_POSTGRES_URL, as the tests).
import fs from 'node:fs';
import { runChaos, type ChaosOptions, type ChaosResult } from './chaos-run';
import { runFuzzPhase, type FuzzPhaseResult } from './fuzz-phase';

export const fullRun: Omit<ChaosOptions, 'seed' | 'log'> = {
  changes: 2000,
  people: 500,
  ratePerSecond: 7,
  maxPending: 120,
  kills: 4,
  // Issue 16 item 8: an AC outage of 10 minutes, the token refused for 3, with the production retry defaults.
  outageMs: 600_000,
  acTokenRefusedMs: 180_000,
  productionRetryDefaults: true,
  forgedWebhooks: 10,
  staleWebhooks: 10,
  adminResyncs: 40,
  webhookDropShare: 0.2,
  webhookReorderWindowMs: 4000,
  silentImports: 15,
  emailChanges: 20,
  sfTimeoutWindowMs: 60_000,
  sfSessionRevokedWindowMs: 60_000,
  storms: 3,
  tokenRevocations: 2,
  cometdExpiries: 2,
  pgTerminations: 2,
  replayExpiry: true,
  settleTimeoutMs: 240_000,
  acRatePerSecond: 5,
};

/** The short version inside `npm test` (chaos-short.test.ts): the same faults, fewer and shorter. */
export const shortRun: Omit<ChaosOptions, 'seed' | 'log'> = {
  changes: 200,
  people: 80,
  ratePerSecond: 10,
  maxPending: 40,
  kills: 1,
  outageMs: 5000,
  acTokenRefusedMs: 3000,
  forgedWebhooks: 2,
  staleWebhooks: 2,
  adminResyncs: 4,
  webhookDropShare: 0.2,
  webhookReorderWindowMs: 2000,
  silentImports: 3,
  emailChanges: 3,
  sfTimeoutWindowMs: 8000,
  sfSessionRevokedWindowMs: 6000,
  storms: 1,
  tokenRevocations: 1,
  cometdExpiries: 1,
  pgTerminations: 1,
  replayExpiry: true,
  settleTimeoutMs: 40_000,
  // A faster account than AC's 5/s keeps the test short; the full run keeps 5/s and measures it.
  acRatePerSecond: 20,
};

/** The issue's final line. Without a fuzz phase (the short run inside `npm test`, where the fuzz suites run as
 * tests of their own) the fuzz figures are null: not measured by this run. */
export function finalLine(result: ChaosResult, fuzz: FuzzPhaseResult | null = null): string {
  const f = result.figures;
  return JSON.stringify({
    bench: 'chaos',
    changes: result.changes,
    instances: 2,
    kills: result.kills,
    failover_seconds_max: Math.round(Math.max(0, ...result.failoverSeconds) * 10) / 10,
    faults: result.faults,
    model_violations: f.modelViolations,
    lost: f.lost,
    noop_writes: f.noopWrites,
    max_ac_requests_per_second: f.maxAcRequestsPerSecond,
    unaudited_decisions: f.unauditedDecisions,
    optout_dead_letters: result.optOutDeadLetters,
    outage_seconds_max: result.outageSecondsMax,
    drained_seconds_after_outage: result.drainedSecondsAfterOutage,
    fuzz_inputs: fuzz?.inputs ?? null,
    fuzz_crashes: fuzz?.crashes ?? null,
    seconds: result.seconds + (fuzz?.seconds ?? 0),
  });
}

export function table(result: ChaosResult, fuzz: FuzzPhaseResult | null = null): string {
  const f = result.figures;
  const fuzzRows: [string, string, string][] =
    fuzz === null
      ? []
      : [
          ['fuzz inputs', `${fuzz.inputs} (${fuzz.byTarget.map((t) => `${t.target} ${t.fed}`).join(', ')})`, '>= 10000'],
          ['fuzz crashes', String(fuzz.crashes), '0'],
        ];
  const rows: [string, string, string][] = [
    ['changes', String(result.changes), '>= 2000'],
    ['instances', '2', '2'],
    ['kills (SIGKILL)', String(result.kills), '>= 3'],
    ['failover seconds (each)', result.failoverSeconds.map((s) => s.toFixed(1)).join(', ') || '-', '<= 30'],
    ['faults injected', result.faults.join(', '), ''],
    ['model violations', String(f.modelViolations), '0'],
    ['lost opt-outs', String(f.lost), '0'],
    ['no-op writes', String(f.noopWrites), '0'],
    ['max AC requests / s', String(f.maxAcRequestsPerSecond), '<= 5'],
    ['unaudited decisions', String(f.unauditedDecisions), '0'],
    ['instance crashes', String(result.crashes.length), '0'],
    ['dead letters', String(result.deadLetters), ''],
    ['opt-out dead letters', String(result.optOutDeadLetters), '0'],
    ['longest AC outage (s)', String(result.outageSecondsMax), ''],
    ['drained after it (s)', result.drainedSecondsAfterOutage === null ? 'never' : String(result.drainedSecondsAfterOutage), ''],
    ['product SF writes', String(f.productSalesforceWrites), ''],
    ['AC requests', String(f.acRequests), ''],
    ...fuzzRows,
    ['seconds', fuzz === null ? String(result.seconds) : `${result.seconds + fuzz.seconds} (chaos ${result.seconds}, fuzz ${fuzz.seconds})`, ''],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  const v = Math.max(...rows.map((r) => r[1].length));
  return [`${'figure'.padEnd(w)}  ${'value'.padEnd(v)}  target`, ...rows.map(([a, b, c]) => `${a.padEnd(w)}  ${b.padEnd(v)}  ${c}`)].join('\n');
}

/** The run's output goes to stdout (it is a report, not a log). */
const print = (line: string) => void process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const seed = process.env.CHAOS_SEED !== undefined ? Number(process.env.CHAOS_SEED) : Math.floor(Math.random() * 2 ** 31);
  const changes = process.env.CHAOS_CHANGES !== undefined ? Number(process.env.CHAOS_CHANGES) : process.env.CHAOS_PROFILE === 'short' ? shortRun.changes : fullRun.changes;
  print(`chaos run: seed ${seed} (replay with CHAOS_SEED=${seed}), ${changes} changes`);
  const profile = process.env.CHAOS_PROFILE === 'short' ? shortRun : fullRun;
  // Fuzzing first, on a quiet machine: the chaos world's timing is not disturbed by it, nor it by the chaos.
  print('fuzz phase: the fuzz suites of middleware/test/fuzz in their own jest process');
  const fuzz = await runFuzzPhase();
  for (const failure of fuzz.failures) print(`fuzz failure: ${failure}`);
  print(`fuzz phase: ${fuzz.inputs} inputs, ${fuzz.crashes} failed, ${fuzz.seconds} s`);
  const result = await runChaos({ ...profile, changes, seed, log: (line) => print(line) });
  for (const d of result.differences.slice(0, 20)) print(`difference: ${d.email} ${d.what}: expected ${d.expected}, actual ${d.actual}`);
  for (const u of result.figures.unaudited.slice(0, 20)) print(`unaudited: ${u}`);
  for (const c of result.crashes) print(`crash: ${c}`);
  for (const h of result.historyOfDifferences.slice(0, 60)) print(`history: ${h}`);
  for (const q of result.queueOfDifferences.slice(0, 40)) print(q);
  // CHAOS_POSTMORTEM=<file> keeps all of it (the lines above are cut to fit a terminal).
  if (process.env.CHAOS_POSTMORTEM !== undefined) {
    const lines = [
      ...result.differences.map((d) => `difference: ${d.email} ${d.what}: expected ${d.expected}, actual ${d.actual}`),
      ...result.figures.unaudited.map((u) => `unaudited: ${u}`),
      ...result.historyOfDifferences.map((h) => `history: ${h}`),
      ...result.queueOfDifferences,
    ];
    fs.writeFileSync(process.env.CHAOS_POSTMORTEM, `${lines.join('\n')}\n`);
    print(`post-mortem (${lines.length} lines) written to ${process.env.CHAOS_POSTMORTEM}`);
  }
  print(`busiest AC second (ms offsets): ${result.figures.busiestWindow.join(', ')}`);
  print(table(result, fuzz));
  print(finalLine(result, fuzz));
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
      process.exit(1);
    },
  );
}
