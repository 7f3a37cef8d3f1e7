// Cases where the product and the reference model disagreed, kept as regression tests once the product was fixed.
import { describe, expect, test } from '@jest/globals';
import { settle, type ModelAction, type ModelWorld } from './reference-model';
import { historyStart } from './history-arbitraries';
import { applyPullJob, applyPushJob, mergePushPayloads, observe, productStateFrom, pushPayloadFromChange, worldOf } from './product-simulation';
import { mergePullPayloads } from '../../src/sync/pull-job';

describe('known divergences between the product and the reference model', () => {
  // Shrunk from the "merged push jobs" exploration: one email on a Contact and a Lead, both edited before the push
  // worker ran (a backlog, or writes made while the middleware was stopped). The model settles each edit in turn:
  // the Contact's opt-out unsubscribes AC (R1) and opts the Lead out by R3, then the Lead's own later opt-in stands
  // (R2: nothing in AC). The product merges both edits into one push job, unsubscribes AC after both, and the
  // detector then dates the R3 transition at that later moment, so R3 overrides the newer opt-in on the Lead.
  // It erred on the safe side (an extra opt-out, never a lost one), but it was not "newest wins". Fixed: the R3 that
  // follows our own R1 is dated at the Salesforce opt-out (workers/opt-out-causes.ts), and R3 leaves a record whose
  // opt-in is newer than the unsubscribe (sync/salesforce-write-plan.ts).
  test('when an opt-out and a newer opt-in of one email are merged before the push worker runs, then the newer opt-in survives R3', () => {
    const world: ModelWorld = {
      records: [
        { id: '003000000000001', objectName: 'Contact', email: 'pat@example.com', optedOut: false, hardBounced: false, optOutChangedAt: null },
        { id: '00Q000000000001', objectName: 'Lead', email: 'Pat@Example.com', optedOut: true, hardBounced: false, optOutChangedAt: historyStart - 60_000 },
      ],
      ac: { 'pat@example.com': { lists: { '1': 1 }, hardBounced: false } },
    };
    const history: ModelAction[] = [
      { kind: 'sf-set-opt-out', recordId: '003000000000001', optedOut: true, at: historyStart + 1000 },
      { kind: 'sf-set-opt-out', recordId: '00Q000000000001', optedOut: false, at: historyStart + 2000 },
    ];
    const expected = settle(world, history).world;
    expect(expected.records.map((r) => r.optedOut)).toEqual([true, false]);

    const state = productStateFrom(world);
    const payloads = history.map((a) => {
      const change = a as Extract<ModelAction, { kind: 'sf-set-opt-out' }>;
      const record = state.records.find((r) => r.id === change.recordId)!;
      record.optedOut = change.optedOut;
      record.optOutChangedAt = new Date(change.at);
      return pushPayloadFromChange({ recordId: record.id, email: record.email, optedOut: change.optedOut, changedAt: new Date(change.at), source: 'CDC' });
    });
    const workerRunsAt = historyStart + 5000;
    applyPushJob(state, payloads.reduce(mergePushPayloads));
    const jobs = observe(state, 'pat@example.com', workerRunsAt, {});
    if (jobs.length > 0) applyPullJob(state, jobs.reduce(mergePullPayloads), workerRunsAt);
    expect(worldOf(state).records.map((r) => r.optedOut)).toEqual(expected.records.map((r) => r.optedOut));
  });
});
