// Issue 8 item 4, the short version inside `npm test`: the chaos run (middleware/chaos/run-chaos.ts) with 200
// changes, one SIGKILL of the stream holder (retention shortened while it is down, so its replay id expires), a 5 s
// ActiveCampaign outage, a 3 s refusal of the AC Api-Token, forged and stale webhooks with the valid secret, 20% of
// AC's webhook deliveries lost and the rest held up to 2 s (out of order), a 429 storm, token revocation, 8 s of
// Salesforce answers held past the instances' timeout, 6 s of Salesforce sessions revoked every 2 s, people imported
// onto a list without a webhook just before the outage and opted out during it, email changes of opted-out records,
// CometD client expiry and terminated PostgreSQL connections.
// Two middleware instances run as child processes on one PostgreSQL database; both emulators run as processes of
// their own. `npm run chaos` is the full run (2,000 changes, 4 kills, a 30 s outage, AC at its real 5/s).
// A failing seed is printed; replay it with CHAOS_SEED=<seed> npm run jest -- middleware/test/chaos.
import { runChaos } from '../../chaos/chaos-run';
import { finalLine, shortRun, table } from '../../chaos/run-chaos';

const seed = process.env.CHAOS_SEED !== undefined ? Number(process.env.CHAOS_SEED) : Math.floor(Math.random() * 2 ** 31);

test(`when two instances sync 200 changes through a kill, an outage, 429s, revoked tokens, CometD expiry, an expired replay id and dropped database connections (seed ${seed}), then both systems equal the model, no opt-out is lost, no write is a no-op and every decision is audited`, async () => {
  const timeline: string[] = [];
  const result = await runChaos({ ...shortRun, seed, log: (line) => timeline.push(line) });
  const report = [`seed ${seed}`, ...timeline, ...result.differences.map((d) => `difference: ${d.email} ${d.what}: expected ${d.expected}, actual ${d.actual}`), ...result.figures.unaudited.map((u) => `unaudited: ${u}`), ...result.crashes.map((c) => `crash: ${c}`), ...result.historyOfDifferences.map((h) => `history: ${h}`), ...result.queueOfDifferences, table(result), finalLine(result)].join('\n');
  console.log(report);

  expect({ seed, modelViolations: result.figures.modelViolations, lost: result.figures.lost, noopWrites: result.figures.noopWrites, unauditedDecisions: result.figures.unauditedDecisions, optOutDeadLetters: result.optOutDeadLetters }).toEqual({ seed, modelViolations: 0, lost: 0, noopWrites: 0, unauditedDecisions: 0, optOutDeadLetters: 0 });
  // The outage was met and its opt-out backlog drained within the settle window.
  expect(result.outageSecondsMax).toBeGreaterThan(0);
  expect(result.drainedSecondsAfterOutage).not.toBeNull();
  expect(result.crashes).toEqual([]);
  expect(result.kills).toBe(1);
  expect(result.failoverSeconds.every((s) => s <= 30)).toBe(true);
  expect(result.faults).toEqual(expect.arrayContaining(['sigkill', 'ac-outage-503', '429-storm', 'token-revocation', process.env.CHAOS_TRANSPORT === 'pubsub' ? 'pubsub-streams-dropped' : 'cometd-client-expiry', 'replay-id-expired', 'pg-terminate-backend', 'ac-token-refused', 'webhooks-dropped', 'admin-resync', 'webhooks-reordered', 'silent-import', 'email-change', 'sf-timeouts', 'sf-401-window']));
}, 180_000);
