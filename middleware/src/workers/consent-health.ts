// Whether opt-outs are getting through, in the words an operator needs: which vendor keeps failing and why, and how
// long the oldest opt-out has been waiting. /readyz, the status page and the metrics all read this one report, so
// an outage that makes opt-outs wait (they never die of it) is visible everywhere at once.
import type { Store } from '../store';
import type { Clock } from '../store/clock';
import type { Metrics } from '../observability/metrics';
import { pushJobKind } from '../sync/push-job';
import { pullJobKind } from '../sync/pull-job';
import { VendorCircuit, type CircuitState } from './vendor-circuit';

export interface ConsentHealthReport {
  degraded: boolean;
  /** One sentence per problem, for /readyz and the status page's banner. */
  reasons: string[];
  circuits: CircuitState[];
  /** The oldest opt-out (push or pull) still waiting, and its age in seconds; null when none waits. */
  oldestPendingOptOut: { since: string; ageSeconds: number } | null;
}

export interface ConsentHealthOptions {
  store: Store;
  clock: Clock;
  metrics: Pick<Metrics, 'oldestPendingOptOutAge' | 'vendorCircuitOpen'>;
  /** An opt-out waiting longer than this makes the instance degraded (default 5 minutes). */
  staleOptOutMs?: number;
  circuitOptions?: { failureThreshold?: number; firstProbeDelayMs?: number; maxProbeDelayMs?: number };
  /**
   * Other reasons opt-outs are lost or wait, one sentence each, known already (never fetched per report): a hidden
   * or read-only opt-out field, Salesforce writes paused at the org's daily API limit.
   */
  otherReasons?: () => string[];
}

const VENDOR_NAMES = { activecampaign: 'ActiveCampaign', salesforce: 'Salesforce' } as const;

export class ConsentHealth {
  readonly activeCampaign: VendorCircuit;
  readonly salesforce: VendorCircuit;

  constructor(private readonly options: ConsentHealthOptions) {
    const onChange = (state: CircuitState) => options.metrics.vendorCircuitOpen.set({ vendor: state.vendor }, state.open ? 1 : 0);
    this.activeCampaign = new VendorCircuit('activecampaign', { ...options.circuitOptions, clock: options.clock, onChange });
    this.salesforce = new VendorCircuit('salesforce', { ...options.circuitOptions, clock: options.clock, onChange });
    options.metrics.vendorCircuitOpen.set({ vendor: 'activecampaign' }, 0);
    options.metrics.vendorCircuitOpen.set({ vendor: 'salesforce' }, 0);
  }

  async report(): Promise<ConsentHealthReport> {
    const { store, clock, metrics } = this.options;
    const [push, pull] = await Promise.all([store.jobs.oldestWhere(pushJobKind.name, 'optOutPending'), store.jobs.oldestWhere(pullJobKind.name, 'optOut')]);
    const oldest = [push, pull].filter((d): d is Date => d !== null).sort((a, b) => a.getTime() - b.getTime())[0] ?? null;
    const now = clock().getTime();
    const ageSeconds = oldest === null ? 0 : Math.max(0, Math.round((now - oldest.getTime()) / 1000));
    metrics.oldestPendingOptOutAge.set(ageSeconds);
    // An open circuit with no opt-out of its vendor waiting closes (see VendorCircuit.nothingWaits).
    if (push === null) this.activeCampaign.nothingWaits();
    if (pull === null) this.salesforce.nothingWaits();
    const circuits = [this.activeCampaign.state(), this.salesforce.state()];
    const reasons: string[] = [...(this.options.otherReasons?.() ?? [])];
    for (const c of circuits) {
      if (!c.open) continue;
      const cause = c.lastFailure?.failureClass === 'credentials' ? 'refuses our credentials or permissions' : 'keeps failing';
      reasons.push(`${VENDOR_NAMES[c.vendor]} ${cause} since ${(c.failingSince ?? c.openSince)?.toISOString()} (${c.consecutiveFailures} failures in a row; last: ${c.lastFailure?.message ?? 'unknown'}); its work waits and one probe at a time tries again`);
    }
    if (oldest !== null && now - oldest.getTime() > (this.options.staleOptOutMs ?? 5 * 60_000)) {
      reasons.push(`an opt-out has been waiting ${formatAge(ageSeconds)} (since ${oldest.toISOString()})`);
    }
    return { degraded: reasons.length > 0, reasons, circuits, oldestPendingOptOut: oldest === null ? null : { since: oldest.toISOString(), ageSeconds } };
  }
}

function formatAge(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} days`;
}
