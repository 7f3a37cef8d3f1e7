// The short chaos run of middleware/test/chaos/chaos-short.test.ts with the middleware on the Pub/Sub API
// (CHAOS_TRANSPORT=pubsub does the same for `npm run chaos`): the same faults and targets, except that the
// transport's own connection fault is every Pub/Sub stream ending with UNAVAILABLE instead of CometD client expiry.
import { runChaos } from '../../../chaos/chaos-run';
import { finalLine, shortRun, table } from '../../../chaos/run-chaos';

const seed = process.env.CHAOS_SEED !== undefined ? Number(process.env.CHAOS_SEED) : Math.floor(Math.random() * 2 ** 31);

test(`on the Pub/Sub API, when two instances sync 200 changes through a kill, an outage, 429s, revoked tokens, dropped streams, an expired replay id and dropped database connections (seed ${seed}), then both systems equal the model and no opt-out is lost`, async () => {
  const timeline: string[] = [];
  const result = await runChaos({ ...shortRun, transport: 'pubsub', seed, log: (line) => timeline.push(line) });
  const report = [`seed ${seed}`, ...timeline, ...result.differences.map((d) => `difference: ${d.email} ${d.what}: expected ${d.expected}, actual ${d.actual}`), ...result.figures.unaudited.map((u) => `unaudited: ${u}`), ...result.crashes.map((c) => `crash: ${c}`), ...result.historyOfDifferences.map((h) => `history: ${h}`), ...result.queueOfDifferences, table(result), finalLine(result)].join('\n');
  console.log(report);

  expect(timeline.some((line) => line.includes('event transport: Pub/Sub API'))).toBe(true);
  expect({ seed, modelViolations: result.figures.modelViolations, lost: result.figures.lost, noopWrites: result.figures.noopWrites, unauditedDecisions: result.figures.unauditedDecisions }).toEqual({ seed, modelViolations: 0, lost: 0, noopWrites: 0, unauditedDecisions: 0 });
  expect(result.crashes).toEqual([]);
  expect(result.kills).toBe(1);
  expect(result.failoverSeconds.every((s) => s <= 30)).toBe(true);
  expect(result.faults).toEqual(expect.arrayContaining(['sigkill', 'ac-outage-503', '429-storm', 'token-revocation', 'pubsub-streams-dropped', 'replay-id-expired', 'pg-terminate-backend']));
}, 180_000);
