// Generated command sequences for the system-level model test: a starting world (the reference model's own
// generator: a few people, Contacts and Leads sharing an email in mixed case, some known to ActiveCampaign) and up
// to 30 actions by people, grouped into rounds that the test applies one after the other, letting the system settle
// after each round.
//
// Why rounds: the model settles every action before the next one, while the real system sees real time. Actions
// on DIFFERENT emails are independent in the model (a record and an AC contact belong to exactly one email), so
// they may happen together; two actions on the SAME email depend on their order (R3 before R5, R5's recency), so
// they always land in different rounds with a settle between them. Some rounds happen while the middleware is
// stopped: their AC webhooks are lost (AC never retries) and their CDC events wait in the retention window, so
// the poller and the replay have to catch up on restart.
import fc from 'fast-check';
import { worldArb } from '../history-arbitraries';
import { emailKey, type ModelAction, type ModelWorld } from '../reference-model';

type TimelessAction = ModelAction extends infer A ? (A extends ModelAction ? Omit<A, 'at'> : never) : never;

export interface Round {
  /** Applied while the middleware is stopped. */
  offline: boolean;
  /** At most one action per email (case-insensitive). */
  actions: TimelessAction[];
}

export interface SystemSequence {
  world: ModelWorld;
  rounds: Round[];
}

export const maxSteps = 30;

/** The emails an action touches, given where each record's email is now (an email change touches both). */
function emailsOfAction(current: Map<string, string>, action: TimelessAction): string[] {
  if (action.kind === 'sf-set-opt-out') return [current.get(action.recordId) ?? ''];
  if (action.kind === 'sf-set-email') return [current.get(action.recordId) ?? '', emailKey(action.email)];
  return [emailKey(action.email)];
}

/**
 * Cuts a flat list of actions into rounds greedily: a new round starts when an email repeats. Deterministic, so
 * fast-check shrinks the flat list and the rounds follow.
 */
export function toRounds(world: ModelWorld, actions: TimelessAction[], offlineFlags: boolean[]): Round[] {
  const rounds: Round[] = [];
  let inRound: TimelessAction[] = [];
  let emails = new Set<string>();
  const current = new Map(world.records.map((r) => [r.id, emailKey(r.email)]));
  const close = () => {
    if (inRound.length === 0) return;
    rounds.push({ offline: offlineFlags[rounds.length] === true, actions: inRound });
    inRound = [];
    emails = new Set();
  };
  for (const action of actions) {
    const touched = emailsOfAction(current, action);
    if (touched.some((e) => emails.has(e))) close();
    inRound.push(action);
    for (const e of touched) emails.add(e);
    if (action.kind === 'sf-set-email') current.set(action.recordId, emailKey(action.email));
  }
  close();
  return rounds;
}

/** Round i happens at historyStart + i s in the model: rounds are ordered, actions within a round are independent. */
export function timedHistory(rounds: Round[], start: number, lostDeliveries: ReadonlySet<string> = new Set()): ModelAction[] {
  // A subscribe made while the middleware is down loses its webhook (AC never retries one): R5 does not count it.
  // Nor does it count one whose delivery failed while the middleware ran (`lostDeliveries`, keyed "round:action",
  // read from AC's delivery ledger: a receiver too slow for AC's timeout on a loaded host).
  return rounds.flatMap((round, i) =>
    round.actions.map((a, j) => ({ ...a, at: start + i * 1000, ...(a.kind === 'ac-subscribe' && (round.offline || lostDeliveries.has(`${i}:${j}`)) ? { deliveryLost: true } : {}) }) as ModelAction),
  );
}

/**
 * An action named by indexes (record, email, list) rather than by ids, so that it is generated without knowing the
 * world: world and actions then shrink independently (with `chain`, shrinking the world regenerates the actions,
 * and each shrink step here costs a real run). Same kinds and weights as history-arbitraries' actionArb.
 */
type ActionSketch =
  | { kind: 'sf'; record: number; optedOut: boolean }
  | { kind: 'ac-unsubscribe'; email: number; list: string }
  | { kind: 'ac-subscribe'; email: number; list: string }
  | { kind: 'ac-hard-bounce'; email: number }
  | { kind: 'sf-email'; record: number; email: number };

const sketchArb: fc.Arbitrary<ActionSketch> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('sf' as const), record: fc.nat(8), optedOut: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('ac-unsubscribe' as const), email: fc.nat(8), list: fc.constantFrom('1', '2', '3', 'all', 'all') }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('ac-subscribe' as const), email: fc.nat(8), list: fc.constantFrom('1', '2', '3', '4') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('ac-hard-bounce' as const), email: fc.nat(8) }) },
  // Issue 16 item 6: a record's Email is edited to another person's address (R1 follows an opted-out record there).
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sf-email' as const), record: fc.nat(8), email: fc.nat(8) }) },
);

/** Names a sketch's record and email in `world` (emails as typed on the records: any case, as people type them). */
function resolve(world: ModelWorld, sketch: ActionSketch): TimelessAction {
  const emails = [...new Set(world.records.map((r) => r.email))];
  const email = emails[sketch.kind === 'sf' ? 0 : sketch.email % emails.length] ?? '';
  if (sketch.kind === 'sf-email') {
    const record = world.records[sketch.record % world.records.length];
    return { kind: 'sf-set-email', recordId: record?.id ?? '', email };
  }
  switch (sketch.kind) {
    case 'sf': {
      const record = world.records[sketch.record % world.records.length];
      return { kind: 'sf-set-opt-out', recordId: record?.id ?? '', optedOut: sketch.optedOut };
    }
    case 'ac-unsubscribe':
      return { kind: 'ac-unsubscribe', email, list: sketch.list };
    case 'ac-subscribe':
      return { kind: 'ac-subscribe', email, list: sketch.list };
    case 'ac-hard-bounce':
      return { kind: 'ac-hard-bounce', email };
  }
}

export const systemSequenceArb: fc.Arbitrary<SystemSequence> = fc
  .tuple(
    worldArb,
    // Mostly short sequences (each round costs real time under AC's 5 requests/s), one in five up to the 30-step
    // bound: fast-check's default size alone would stop near 10.
    fc.oneof(
      { withCrossShrink: true },
      { weight: 4, arbitrary: fc.array(sketchArb, { minLength: 1, maxLength: 10 }) },
      { weight: 1, arbitrary: fc.array(sketchArb, { minLength: 11, maxLength: maxSteps }) },
    ),
    // About one round in six runs with the middleware stopped.
    fc.array(fc.integer({ min: 0, max: 5 }).map((x) => x === 0), { minLength: maxSteps, maxLength: maxSteps }),
  )
  .map(([world, sketches, offline]) => ({ world, rounds: toRounds(world, sketches.map((s) => resolve(world, s)), offline) }));
