// The chaos run's verdict from what the systems hold and logged: model differences, lost opt-outs, no-op writes,
// the busiest second of ActiveCampaign calls outside the injected storms, and decisions that happened without an
// audit entry. Plain data in, figures out.
import type { ModelAction, ModelDecision, ModelWorld } from '../test/model/reference-model';
import type { Difference } from './chaos-world';
import type { CapturedChange } from './emulator-process';
import { syncStateFields } from '../src/salesforce/package-names';

export interface ChaosFigures {
  modelViolations: number;
  lost: number;
  noopWrites: number;
  maxAcRequestsPerSecond: number;
  unauditedDecisions: number;
  productSalesforceWrites: number;
  acRequests: number;
  unaudited: string[];
  /** Arrival times (ms after the first) of the busiest window's calls, to see how they bunched. */
  busiestWindow: number[];
}

export interface JudgeInput {
  initial: ModelWorld;
  history: ModelAction[];
  decisions: ModelDecision[];
  differences: Difference[];
  changes: CapturedChange[];
  integrationUserId: string;
  acLog: { at: string; method: string; path: string; status: number; faulted: boolean }[];
  faultWindows: { from: number; to: number }[];
  audit: { direction: string; email_norm: string | null; record_id: string | null; new_value: string | null; decision: string; result: string }[];
  /** Writes seen during the two poll cycles after settling (each one is a write that changed nothing). */
  quietWrites: number;
}

const OPT_OUT_FIELDS = ['HasOptedOutOfEmail', syncStateFields.hardBounced];

export function judge(input: JudgeInput): ChaosFigures {
  const productWrites = input.changes.filter((c) => c.changeType === 'UPDATE' && c.commitUser === input.integrationUserId);
  const meaningful = (c: CapturedChange) => c.changedFields.some((f) => OPT_OUT_FIELDS.includes(f));
  const noop = productWrites.filter((c) => !meaningful(c)).reduce((n, c) => n + c.recordIds.length, 0);

  // Busiest sliding one-second window of AC calls, both instances together, outside storms and the outage.
  const times = input.acLog
    .filter((r) => !r.faulted)
    .map((r) => Date.parse(r.at))
    .filter((t) => !input.faultWindows.some((w) => t >= w.from && t <= w.to))
    .sort((a, b) => a - b);
  let busiest = 0;
  let busiestWindow: number[] = [];
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= 1000) j++;
    if (i - j + 1 > busiest) {
      busiest = i - j + 1;
      busiestWindow = times.slice(j, i + 1);
    }
  }

  const unaudited: string[] = [];
  let unauditedCount = 0;
  const count = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
  // Salesforce: every record the product changed, and every change the model says it had to make.
  const written = new Map<string, number>();
  for (const c of productWrites.filter(meaningful)) for (const id of c.recordIds) count(written, id.slice(0, 15));
  const modelWrites = new Map<string, number>();
  for (const d of input.decisions) if (d.rule === 'R3' || d.rule === 'R4' || d.rule === 'R5') count(modelWrites, d.target.slice(0, 15));
  const auditedWrites = new Map<string, number>();
  // A write whose answer never came is audited as of unknown outcome (Salesforce may have committed it): it accounts
  // for the write it may have been.
  for (const a of input.audit) if (a.decision === 'update-salesforce' && (a.result === 'written' || a.result.startsWith('outcome unknown')) && a.record_id !== null) count(auditedWrites, a.record_id.slice(0, 15));
  for (const id of new Set([...written.keys(), ...modelWrites.keys()])) {
    const happened = Math.max(written.get(id) ?? 0, modelWrites.get(id) ?? 0);
    const missing = happened - (auditedWrites.get(id) ?? 0);
    if (missing > 0) unauditedCount += missing;
    if (missing > 0) unaudited.push(`record ${id}: ${happened} writes, ${auditedWrites.get(id) ?? 0} audited`);
  }
  // ActiveCampaign: every list the model says R1 unsubscribed.
  const modelUnsubs = new Map<string, number>();
  for (const d of input.decisions) if (d.rule === 'R1') count(modelUnsubs, d.target);
  const auditedUnsubs = new Map<string, number>();
  for (const a of input.audit) {
    const list = /^list (\S+): 2$/.exec(a.new_value ?? '')?.[1];
    if (a.decision === 'unsubscribe-list' && a.result === 'unsubscribed' && list !== undefined && a.email_norm !== null) count(auditedUnsubs, `${a.email_norm} list ${list}`);
  }
  for (const [target, happened] of modelUnsubs) {
    const missing = happened - (auditedUnsubs.get(target) ?? 0);
    if (missing > 0) unauditedCount += missing;
    if (missing > 0) unaudited.push(`${target}: ${happened} unsubscribes, ${auditedUnsubs.get(target) ?? 0} audited`);
  }

  return {
    modelViolations: input.differences.length,
    lost: input.differences.filter((d) => d.lostOptOut).length,
    noopWrites: noop + input.quietWrites,
    maxAcRequestsPerSecond: busiest,
    unauditedDecisions: unauditedCount,
    productSalesforceWrites: productWrites.length,
    acRequests: input.acLog.length,
    unaudited,
    busiestWindow: busiestWindow.map((t) => t - (busiestWindow[0] ?? t)),
  };
}
