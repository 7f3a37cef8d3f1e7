// Drives the product's PURE rule functions (middleware/src/sync, plus the R1 list filter) over the same history the
// reference model settles, with ActiveCampaign's own behaviour taken from the model (a vendor fact, not a rule).
// No I/O: the workers' bookkeeping is mirrored in a few lines (links: an opt-out written by the pull path is dated
// at the AC event; snapshots: the detector's previous state is the last observation).
import { detectTransitions, type AcContactState, type PreviousAcState } from '../../src/sync/ac-transitions';
import { mergePullPayloads, type PullJobPayload } from '../../src/sync/pull-job';
import { mergePushPayloads, pushPayloadFromChange, type PushJobPayload } from '../../src/sync/push-job';
import { planSalesforceWrites, type SalesforceRecordState, type WritePlan } from '../../src/sync/salesforce-write-plan';
import { defaultSettings, type Settings } from '../../src/sync/settings';
import { normaliseEmail } from '../../src/sync/opt-out-change';
import { shouldUnsubscribe } from '../../src/activecampaign/unsubscribe-from-all-lists';
import { syncStateFields } from '../../src/salesforce/package-names';
import { applyAcPersonAction, cloneWorld, emailKey, type ListStatus, type ModelAction, type ModelWorld } from './reference-model';

export const settings: Settings = defaultSettings;

export interface ProductState {
  records: SalesforceRecordState[];
  /** ActiveCampaign as it is (the environment). */
  ac: ModelWorld['ac'];
  /** The detector's last observation per email key (null: never seen, i.e. new to us). */
  snapshots: Map<string, PreviousAcState>;
  /** Every write plan the pull path made, for the R6 checks. */
  plans: { job: PullJobPayload; plan: WritePlan; replanned: WritePlan }[];
  /** When the Salesforce opt-out behind our own unsubscribe was made, per email key (workers/opt-out-causes.ts). */
  causes: Map<string, number>;
}

export function productStateFrom(world: ModelWorld): ProductState {
  const copy = cloneWorld(world);
  return {
    records: copy.records.map((r) => ({ id: r.id, objectName: r.objectName, email: r.email, optedOut: r.optedOut, hardBouncedFlag: r.hardBounced, optOutChangedAt: r.optOutChangedAt === null ? null : new Date(r.optOutChangedAt) })),
    ac: copy.ac,
    // Every contact AC holds at the start was seen by the baseline poll.
    snapshots: new Map(Object.entries(copy.ac).map(([k, c]) => [k, { listStatuses: { ...c.lists }, hardBounced: c.hardBounced }])),
    causes: new Map(),
    plans: [],
  };
}

/** The product's view of the world, in the model's shape, for comparison. */
export function worldOf(state: ProductState): ModelWorld {
  return {
    records: state.records.map((r) => ({ id: r.id, objectName: r.objectName, email: r.email, optedOut: r.optedOut, hardBounced: r.hardBouncedFlag === true, optOutChangedAt: r.optOutChangedAt?.getTime() ?? null })),
    ac: cloneWorld({ records: [], ac: state.ac }).ac,
  };
}

/** What the change detector would be handed for this contact now. */
export function acStateOf(state: ProductState, key: string, at: number, subscribedAt: Record<string, number>): AcContactState | null {
  const contact = state.ac[key];
  if (contact === undefined) return null;
  return {
    acContactId: `ac-${key}`,
    email: key,
    listStatuses: { ...contact.lists },
    subscribedAt: Object.fromEntries(Object.entries(subscribedAt).filter(([l]) => contact.lists[l] === 1).map(([l, t]) => [l, new Date(t)])),
    hardBounced: contact.hardBounced,
    acUpdatedAt: new Date(at),
  };
}

/** R1/R2 as the push worker applies them: unsubscribe every list shouldUnsubscribe names; an opt-in does nothing. */
export function applyPushJob(state: ProductState, job: PushJobPayload): void {
  if (!job.optOutPending) return;
  const contact = state.ac[emailKey(job.email)];
  if (contact === undefined) return;
  let changed = false;
  for (const [list, status] of Object.entries(contact.lists)) {
    if (shouldUnsubscribe(status)) {
      contact.lists[list] = 2 as ListStatus;
      changed = true;
    }
  }
  if (changed && job.optOutAt) state.causes.set(emailKey(job.email), Date.parse(job.optOutAt));
}

/** The detector's pull jobs for one contact, moving its snapshot on (as detectAndQueue does). */
export function observe(state: ProductState, key: string, at: number, subscribedAt: Record<string, number>): PullJobPayload[] {
  const current = acStateOf(state, key, at, subscribedAt);
  if (current === null) return [];
  const previous = state.snapshots.get(key) ?? null;
  state.snapshots.set(key, { listStatuses: { ...current.listStatuses }, hardBounced: current.hardBounced });
  return detectTransitions(previous, current, new Date(at)).map((detected) => {
    const cause = detected.kind === 'unsubscribed-from-all' ? state.causes.get(key) : undefined;
    if (cause !== undefined) state.causes.delete(key);
    return cause !== undefined && cause < detected.at.getTime() ? { ...detected, at: new Date(cause) } : detected;
  }).map((t) => ({
    email: normaliseEmail(current.email),
    acContactId: current.acContactId,
    optOut: t.kind !== 'resubscribed',
    hardBounced: t.kind === 'hard-bounced',
    rule: t.rule,
    acEventAt: t.at.toISOString(),
  }));
}

/** The pull worker: plan on the records of the job's email, apply the writes, date written opt-outs at the AC event. */
export function applyPullJob(state: ProductState, job: PullJobPayload, now: number): WritePlan {
  const records = state.records.filter((r) => r.email.toLowerCase() === job.email);
  const plan = planSalesforceWrites(job, records, settings, { customFields: true, now: new Date(now) });
  for (const write of plan.writes) {
    const record = state.records.find((r) => r.id === write.id);
    if (record === undefined) throw new Error(`plan wrote unknown record ${write.id}`);
    const optOut = write.fields[settings.optOutField];
    if (typeof optOut === 'boolean') {
      record.optedOut = optOut;
      record.optOutChangedAt = new Date(job.acEventAt);
    }
    if (write.fields[syncStateFields.hardBounced] === true) record.hardBouncedFlag = true;
  }
  // R6: the same job planned again on the records it produced must write nothing.
  const replanned = planSalesforceWrites(job, state.records.filter((r) => r.email.toLowerCase() === job.email), settings, { customFields: true, now: new Date(now) });
  state.plans.push({ job, plan, replanned });
  return plan;
}

export function mergeAll<T>(items: T[], merge: (a: T, b: T) => T): T | undefined {
  return items.reduce<T | undefined>((acc, item) => (acc === undefined ? item : merge(acc, item)), undefined);
}

/**
 * Runs a history through the product's rules, one action at a time and every consequence at once (the model's
 * "settled after each action"). Pull jobs of one observation are merged as the queue would merge them.
 */
export function runProductStepwise(initial: ModelWorld, history: readonly ModelAction[]): ProductState {
  const state = productStateFrom(initial);
  const subscribedAt: Record<string, Record<string, number>> = {};
  const ordered = history.map((action, index) => ({ action, index })).sort((a, b) => a.action.at - b.action.at || a.index - b.index);
  for (const { action } of ordered) {
    let key: string;
    // Email changes go through the intake's EMAIL_CHANGE path, which this pure simulation does not reproduce; the
    // history arbitraries never generate them, and the system and chaos tests drive them through the real product.
    if (action.kind === 'sf-set-email') throw new Error('runProductStepwise does not simulate email changes');
    if (action.kind === 'sf-set-opt-out') {
      const record = state.records.find((r) => r.id === action.recordId);
      if (record === undefined || record.optedOut === action.optedOut) continue;
      record.optedOut = action.optedOut;
      record.optOutChangedAt = new Date(action.at);
      key = emailKey(record.email);
      applyPushJob(state, pushPayloadFromChange({ recordId: record.id, email: record.email, optedOut: action.optedOut, changedAt: new Date(action.at), source: 'CDC' }));
    } else {
      key = emailKey(action.email);
      applyAcPersonAction({ records: [], ac: state.ac }, action);
      if (action.kind === 'ac-subscribe') (subscribedAt[key] ??= {})[action.list] = action.at;
    }
    const jobs = observe(state, key, action.at, subscribedAt[key] ?? {});
    const merged = mergeAll(jobs, mergePullPayloads);
    if (merged !== undefined) applyPullJob(state, merged, action.at);
  }
  return state;
}

export { mergePushPayloads, pushPayloadFromChange, mergePullPayloads };
