// Feeds ActiveCampaign observations (from the poller and from webhooks alike) through one detector, so a change
// seen by both is acted on once: the first observation moves the snapshot, the second finds nothing new.
import type { Store, SqlExecutor } from '../store';
import type { AuditEntry } from '../store/audit-log';
import { detectTransitions, hasUndatedActiveList, newestActiveSubscribe, unsubscribeMark, type AcContactState, type AcTransition, type PreviousAcState } from '../sync/ac-transitions';
import { pullJobKind, type PullJobPayload } from '../sync/pull-job';
import { normaliseEmail } from '../sync/opt-out-change';
import { recordOptOutCauses, takeOptOutCauses } from './opt-out-causes';
import { defaultCountedSubscribeSources, resolveResubscribe, type AwaitingSubscribe, type DeliveredSubscribes, type SubscribeSource } from '../sync/subscribe-source';

export interface DetectionSummary {
  observed: number;
  transitions: number;
  queued: number;
}

/**
 * Compares observations with snapshots inside the caller's transaction (rows locked FOR UPDATE, so two instances
 * never derive the same transition twice), stores the new snapshots and queues the Salesforce work.
 * `baseline: true` records the snapshot only: the first run must never mass-flip Salesforce (issue 4 §5).
 */
export async function detectAndQueue(
  store: Store,
  tx: SqlExecutor,
  observations: AcContactState[],
  options: {
    observedAt: Date;
    via: 'poll' | 'webhook' | 'reconcile' | 'push';
    baseline: boolean;
    inScope?: (state: AcContactState) => boolean;
    /** Per contact: the sources the subscribe deliveries confirmed by these reads claim, per list (webhook path only). */
    deliveredSubscribes?: ReadonlyMap<string, DeliveredSubscribes>;
    /** R5_Subscribe_Sources__c: whose re-subscribes count. */
    countedSubscribeSources?: readonly SubscribeSource[];
  },
): Promise<DetectionSummary> {
  // Observations are taken in order: several of one contact (webhook deltas, then a fresh read) each compare with
  // the one before, so a state that lasted only moments (unsubscribed everywhere, then subscribed again) still
  // yields its transitions.
  const ids = [...new Set(observations.map((o) => o.acContactId))];
  const previous: Map<string, PreviousAcState & { awaitingSubscribe?: AwaitingSubscribe | null }> = await store.snapshots.getMany(ids, tx);
  const latest = new Map<string, AcContactState>();
  const awaiting = new Map<string, AwaitingSubscribe | null>([...previous].map(([id, p]) => [id, p.awaitingSubscribe ?? null]));
  const counted = options.countedSubscribeSources ?? defaultCountedSubscribeSources;
  const jobs: { subject: string; payload: PullJobPayload }[] = [];
  const audits: AuditEntry[] = [];
  let transitions = 0;
  const causes = options.baseline ? new Map<string, Date>() : await takeOptOutCauses(store, [...new Set(observations.map((o) => normaliseEmail(o.email)))], tx);
  const unusedCauses = new Map(causes);
  for (const state of observations) {
    const before = previous.get(state.acContactId) ?? null;
    previous.set(state.acContactId, { ...state, lastUnsubscribedAt: unsubscribeMark(state) });
    latest.set(state.acContactId, state);
    if (options.baseline) continue;
    if (options.inScope !== undefined && !options.inScope(state)) continue;
    const email = normaliseEmail(state.email);
    const detectedAll = detectTransitions(before, state, options.observedAt);
    // R5 counts only a subscribe whose delivery says the person made it (subscribe-source.ts): judged here, with a
    // subscribe an earlier read saw still waiting for its delivery.
    const r5 = detectedAll.find((t) => t.rule === 'R5');
    const resubscribe = resolveResubscribe({
      detected: r5 === undefined ? null : { at: r5.at, lists: r5.kind === 'resubscribed' ? r5.lists : [] },
      awaiting: awaiting.get(state.acContactId) ?? null,
      listStatuses: state.listStatuses,
      hardBounced: state.hardBounced,
      delivered: options.deliveredSubscribes?.get(state.acContactId) ?? new Map(),
      counted,
    });
    awaiting.set(state.acContactId, resubscribe.awaiting);
    if (resubscribe.skipped !== null) {
      audits.push({ direction: 'ac_to_sf', email, acContactId: state.acContactId, oldValue: before === null ? 'unknown' : JSON.stringify(before.listStatuses), newValue: JSON.stringify(state.listStatuses), decision: 'skip', reason: `${resubscribe.skipped} (seen by ${options.via})`, result: resubscribe.awaiting !== null ? 'waiting' : 'not counted' });
    }
    const detectedNow: AcTransition[] = detectedAll.filter((t) => t.rule !== 'R5');
    if (resubscribe.queue !== null) detectedNow.push({ rule: 'R5', kind: 'resubscribed', at: resubscribe.queue.at, lists: resubscribe.queue.lists });
    for (const detected of detectedNow) {
      transitions++;
      // An R3 caused by our own R1 happened when the Salesforce opt-out was made (see opt-out-causes.ts).
      const cause = detected.kind === 'unsubscribed-from-all' ? unusedCauses.get(email) : undefined;
      if (cause !== undefined) unusedCauses.delete(email);
      const t = cause !== undefined && cause.getTime() < detected.at.getTime() ? { ...detected, at: cause } : detected;
      jobs.push({
        subject: email,
        payload: {
          email,
          acContactId: state.acContactId,
          optOut: t.kind !== 'resubscribed',
          hardBounced: t.kind === 'hard-bounced',
          rule: t.rule,
          acEventAt: t.at.toISOString(),
        },
      });
      audits.push({
        direction: 'ac_to_sf',
        email,
        acContactId: state.acContactId,
        oldValue: before === null ? 'unknown' : JSON.stringify(before.listStatuses),
        newValue: JSON.stringify(state.listStatuses),
        decision: 'queue-salesforce-update',
        reason: `${t.rule}: ${t.kind}${t.kind === 'resubscribed' && resubscribe.queue !== null ? ` (initiated from ${resubscribe.queue.source})` : ''} (seen by ${options.via})`,
        result: 'queued',
      });
    }
  }
  // Causes this batch did not use stay for the R3 still to come (a later delivery or poll).
  await recordOptOutCauses(store, [...unusedCauses.entries()].map(([email, at]) => ({ email, at: at.toISOString() })), tx);
  const states = [...latest.values()];
  await store.snapshots.upsertMany(
    states.map((s) => ({ acContactId: s.acContactId, email: s.email, listStatuses: s.listStatuses, hardBounced: s.hardBounced, acUpdatedAt: s.acUpdatedAt, lastUnsubscribedAt: unsubscribeMark(s), lastSubscribedAt: newestActiveSubscribe(s), hasUndatedActiveList: hasUndatedActiveList(s), awaitingSubscribe: awaiting.get(s.acContactId) ?? null })),
    tx,
  );
  if (jobs.length > 0) await store.jobs.enqueue(tx, pullJobKind, jobs);
  await store.audit.record(audits, tx);
  return { observed: states.length, transitions, queued: jobs.length };
}

/**
 * What our own AC writes leave, taken as observations: after an R1 the contact is off the lists it left, and the
 * snapshot must know it. Otherwise a read that comes after the person joined a list again (the webhooks of our own
 * unsubscribes arrive later) compares with a snapshot from before the opt-out, sees no "zero lists -> one", and the
 * person's subscribe is lost; and the R3 our R1 causes (the email's other records) is seen at once, dated by the
 * opt-out (opt-out-causes.ts).
 */
export function ownWriteObserver(deps: { store: Store; clock: () => Date; isBaselineDone: (tx: SqlExecutor) => Promise<boolean>; countedSubscribeSources?: () => readonly SubscribeSource[] }) {
  /** Resolves to whether pull work was queued; the caller wakes the pull loop once its transaction has committed. */
  return async (observations: AcContactState[], tx: SqlExecutor): Promise<boolean> => {
    if (observations.length === 0) return false;
    const summary = await detectAndQueue(deps.store, tx, observations, { observedAt: deps.clock(), via: 'push', baseline: !(await deps.isBaselineDone(tx)), countedSubscribeSources: deps.countedSubscribeSources?.() });
    return summary.queued > 0;
  };
}
