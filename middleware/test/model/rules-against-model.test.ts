// Model-based tests: the product's pure rule functions (middleware/src/sync) against the reference model, over
// generated histories. A failure prints fast-check's seed and path (see fast-check-options.ts to replay it).
import { afterAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { settle, emailKey, applyAcPersonAction, type ModelAction, type ModelWorld } from './reference-model';
import { historyStart, worldAndHistoryArb, worldArb } from './history-arbitraries';
import {
  applyPullJob,
  applyPushJob,
  mergePullPayloads,
  mergePushPayloads,
  observe,
  productStateFrom,
  pushPayloadFromChange,
  runProductStepwise,
  settings,
  worldOf,
} from './product-simulation';
import { detectTransitions } from '../../src/sync/ac-transitions';
import { planSalesforceWrites } from '../../src/sync/salesforce-write-plan';
import type { PullJobPayload } from '../../src/sync/pull-job';
import type { PushJobPayload } from '../../src/sync/push-job';
import { propertyParameters } from './fast-check-options';

/** What both systems hold, without the bookkeeping times. */
function outcome(world: ModelWorld) {
  return {
    salesforce: Object.fromEntries(world.records.map((r) => [r.id, { optedOut: r.optedOut, hardBounced: r.hardBounced }])),
    activeCampaign: Object.fromEntries(Object.entries(world.ac).map(([k, c]) => [k, { lists: c.lists, hardBounced: c.hardBounced }])),
  };
}

/** Merges items along a generated binary tree: any order (shuffled before) and any grouping. */
function mergeTree<T>(items: T[], splits: number[], merge: (a: T, b: T) => T, depth = 0): T {
  if (items.length === 1) return items[0] as T;
  const at = 1 + ((splits[depth % Math.max(splits.length, 1)] ?? 0) % (items.length - 1));
  return merge(mergeTree(items.slice(0, at), splits, merge, depth + 1), mergeTree(items.slice(at), splits, merge, depth + 1));
}

const runs = { stepwise: 4000, pushMerge: 2000, pullMerge: 2000, batchedPull: 1500, planIdempotent: 1000, lateSubscribe: 500 };
let executed = 0;

describe('the product rules against the reference model', () => {
  test('when any history is settled one action at a time, then the product rules reach exactly the model state, with no loop and no empty write', () => {
    fc.assert(
      fc.property(worldAndHistoryArb(), ({ world, history }) => {
        executed++;
        const expected = settle(world, history).world;
        const state = runProductStepwise(world, history);
        expect(outcome(worldOf(state))).toEqual(outcome(expected));
        // R6: every write changes something, and planning the same job again on the result writes nothing.
        for (const { plan, replanned } of state.plans) {
          for (const write of plan.writes) expect(Object.keys(write.fields).length).toBeGreaterThan(0);
          expect(replanned.writes).toEqual([]);
        }
        // Settled: observing ActiveCampaign again derives no transition (no loop through the poller).
        for (const key of Object.keys(state.ac)) expect(observe(state, key, historyStart + 7200_000, {})).toEqual([]);
      }),
      propertyParameters(runs.stepwise),
    );
  });

  test('when Salesforce changes of one email arrive in any order and are merged in any grouping, then no opt-out is lost and the newest value is kept', () => {
    const changesArb = worldArb.chain((world) => {
      const record = world.records[0]!;
      const sameEmail = world.records.filter((r) => emailKey(r.email) === emailKey(record.email));
      // Real changes only: each record's values alternate (CDC reports a change, not a save).
      return fc
        .tuple(
          fc.array(fc.constantFrom(...sameEmail), { minLength: 1, maxLength: 12 }),
          fc.uniqueArray(fc.integer({ min: 0, max: 10_000 }), { minLength: 12, maxLength: 12 }),
          fc.array(fc.nat(), { maxLength: 12 }),
          fc.func(fc.nat()),
        )
        .map(([picks, offsets, splits, shuffleKey]) => {
          const value = new Map(sameEmail.map((r) => [r.id, r.optedOut]));
          const times = [...offsets].sort((a, b) => a - b);
          const actions: ModelAction[] = picks.map((r, i) => {
            const next = !(value.get(r.id) ?? false);
            value.set(r.id, next);
            return { kind: 'sf-set-opt-out', recordId: r.id, optedOut: next, at: historyStart + (times[i] ?? i) * 1000 };
          });
          const delivered = actions.map((a, i) => ({ a, k: shuffleKey(i) })).sort((x, y) => x.k - y.k).map((x) => x.a);
          return { world, actions, delivered, splits };
        });
    });
    fc.assert(
      fc.property(changesArb, ({ world, actions, delivered, splits }) => {
        executed++;
        const byId = new Map(world.records.map((r) => [r.id, r]));
        const payloads: PushJobPayload[] = delivered.map((a) => {
          const change = a as Extract<ModelAction, { kind: 'sf-set-opt-out' }>;
          const record = byId.get(change.recordId)!;
          return pushPayloadFromChange({ recordId: record.id, email: record.email, optedOut: change.optedOut, changedAt: new Date(change.at), source: 'CDC' });
        });
        const merged = mergeTree(payloads, splits, mergePushPayloads);
        const newest = [...actions].sort((a, b) => b.at - a.at)[0] as Extract<ModelAction, { kind: 'sf-set-opt-out' }>;
        expect(merged.optOutPending).toBe(actions.some((a) => a.kind === 'sf-set-opt-out' && a.optedOut));
        expect(merged.latestOptedOut).toBe(newest.optedOut);
        expect(merged.latestChangedAt).toBe(new Date(newest.at).toISOString());
        // Applied to ActiveCampaign, the one merged job leaves it as the model's one-by-one history does.
        const state = productStateFrom(world);
        applyPushJob(state, merged);
        expect(outcome(worldOf(state)).activeCampaign).toEqual(outcome(settle(world, actions).world).activeCampaign);
      }),
      propertyParameters(runs.pushMerge),
    );
  });

  test('when ActiveCampaign decisions of one email are merged in any order and grouping, then a bounce sticks and otherwise the newest wins', () => {
    const decisionArb = fc.record({
      kind: fc.constantFrom('R3', 'R4', 'R5'),
      at: fc.integer({ min: 0, max: 100_000 }),
    });
    const jobsArb = fc.tuple(fc.uniqueArray(decisionArb, { minLength: 1, maxLength: 10, selector: (d) => d.at }), fc.array(fc.nat(), { maxLength: 10 }), fc.func(fc.nat()));
    fc.assert(
      fc.property(jobsArb, ([decisions, splits, shuffleKey]) => {
        executed++;
        const jobs: PullJobPayload[] = decisions.map((d) => ({
          email: 'person0@example.com',
          acContactId: '1',
          optOut: d.kind !== 'R5',
          hardBounced: d.kind === 'R4',
          rule: d.kind as 'R3' | 'R4' | 'R5',
          acEventAt: new Date(historyStart + d.at * 1000).toISOString(),
        }));
        const delivered = jobs.map((j, i) => ({ j, k: shuffleKey(i) })).sort((x, y) => x.k - y.k).map((x) => x.j);
        const merged = mergeTree(delivered, splits, mergePullPayloads);
        const bounced = decisions.some((d) => d.kind === 'R4');
        const newest = [...decisions].sort((a, b) => b.at - a.at)[0]!;
        expect(merged.hardBounced).toBe(bounced);
        expect(merged.optOut).toBe(bounced || newest.kind !== 'R5');
        expect(merged.acEventAt).toBe(new Date(historyStart + newest.at * 1000).toISOString());
      }),
      propertyParameters(runs.pullMerge),
    );
  });

  test('when a stretch of ActiveCampaign history is observed step by step but written to Salesforce as one merged job, then Salesforce ends as the model says', () => {
    fc.assert(
      fc.property(worldAndHistoryArb({ salesforce: false, maxLength: 12 }), ({ world, history }) => {
        executed++;
        const expected = settle(world, history).world;
        const state = productStateFrom(world);
        const subscribedAt: Record<string, Record<string, number>> = {};
        const jobs = new Map<string, PullJobPayload>();
        for (const action of history) {
          if (action.kind === 'sf-set-opt-out' || action.kind === 'sf-set-email') continue;
          const key = emailKey(action.email);
          applyAcPersonAction({ records: [], ac: state.ac }, action);
          if (action.kind === 'ac-subscribe') (subscribedAt[key] ??= {})[action.list] = action.at;
          for (const job of observe(state, key, action.at, subscribedAt[key] ?? {})) {
            const queued = jobs.get(job.email);
            jobs.set(job.email, queued === undefined ? job : mergePullPayloads(queued, job));
          }
        }
        for (const job of jobs.values()) applyPullJob(state, job, historyStart + 7200_000);
        expect(outcome(worldOf(state))).toEqual(outcome(expected));
      }),
      propertyParameters(runs.batchedPull),
    );
  });

  test('when a pull job has been written, then the same job planned again writes nothing, and a detector fed its own output finds no transition', () => {
    fc.assert(
      fc.property(worldAndHistoryArb({ maxLength: 8 }), fc.constantFrom<'R3' | 'R4' | 'R5'>('R3', 'R4', 'R5'), ({ world, history }, rule) => {
        executed++;
        const state = runProductStepwise(world, history);
        const key = emailKey(state.records[0]!.email);
        const job: PullJobPayload = { email: key, acContactId: '1', optOut: rule !== 'R5', hardBounced: rule === 'R4', rule, acEventAt: new Date(historyStart + 7200_000).toISOString() };
        applyPullJob(state, job, historyStart + 7200_000);
        const again = planSalesforceWrites(job, state.records.filter((r) => r.email.toLowerCase() === key), settings, { customFields: true, now: new Date(historyStart + 7300_000) });
        expect(again.writes).toEqual([]);
        for (const [k, contact] of Object.entries(state.ac)) {
          const same = { acContactId: k, email: k, listStatuses: contact.lists, subscribedAt: {}, hardBounced: contact.hardBounced, acUpdatedAt: null };
          expect(detectTransitions({ listStatuses: contact.lists, hardBounced: contact.hardBounced }, same, new Date(historyStart))).toEqual([]);
        }
      }),
      propertyParameters(runs.planIdempotent),
    );
  });

  test('when a subscribe is seen after Salesforce opt-outs made around it, then a record is unchecked only when its opt-out is not newer than the subscribe', () => {
    const subscribeAt = historyStart + 600_000;
    const recordArb = fc.record({ optedOut: fc.boolean(), offset: fc.option(fc.integer({ min: -3, max: 3 }), { nil: null }), lead: fc.boolean() });
    const caseArb = fc.record({ records: fc.array(recordArb, { minLength: 1, maxLength: 4 }), lists: fc.dictionary(fc.constantFrom('1', '2'), fc.constantFrom<0 | 2>(0, 2), { maxKeys: 2 }) });
    fc.assert(
      fc.property(caseArb, ({ records, lists }) => {
        executed++;
        // Opt-out times up to 3 s either side of the subscribe: the observation came late (poll after the edits).
        const world: ModelWorld = {
          records: records.map((r, i) => ({ id: `${r.lead ? '00Q' : '003'}00000${i}`, objectName: r.lead ? 'Lead' : 'Contact', email: i % 2 === 0 ? 'late@example.com' : 'Late@Example.com', optedOut: r.optedOut, hardBounced: false, optOutChangedAt: r.offset === null ? null : subscribeAt + r.offset * 1000 })),
          ac: { 'late@example.com': { lists, hardBounced: false } },
        };
        const history: ModelAction[] = [{ kind: 'ac-subscribe', email: 'late@example.com', list: '3', at: subscribeAt }];
        expect(outcome(worldOf(runProductStepwise(world, history)))).toEqual(outcome(settle(world, history).world));
      }),
      propertyParameters(runs.lateSubscribe),
    );
  });

  afterAll(() => {
    // The issue asks for at least 10,000 generated histories per `npm test`.
    if (process.env.FC_SEED === undefined && process.env.FC_RUNS === undefined) expect(executed).toBeGreaterThanOrEqual(10_000);
  });
});
