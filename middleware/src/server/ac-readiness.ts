// "Is ActiveCampaign reachable?" for /readyz without spending the account's 5 requests/s on it: real traffic
// (the poller, the workers) already proves it, so a probe is sent only when nothing has talked to AC lately, and
// at most once per probe interval however often /readyz is asked.
import type { AcUsage } from '../observability/ac-usage';

export type AcReachability = 'reachable' | 'unreachable' | 'unknown';

export interface AcReadinessOptions {
  usage: Pick<AcUsage, 'lastAnsweredAt' | 'lastFailedAt'>;
  /** One cheap AC request; its outcome reaches `usage` through the client's onRequest hook. */
  probe: () => Promise<unknown>;
  now?: () => number;
  /** An answer younger than this proves reachability. */
  freshMs?: number;
  /** Minimum time between two probes. */
  probeEveryMs?: number;
}

export class AcReadiness {
  private lastProbeAt: number | null = null;
  private probing: Promise<void> | null = null;
  private readonly now: () => number;
  private readonly freshMs: number;
  private readonly probeEveryMs: number;

  constructor(private readonly options: AcReadinessOptions) {
    this.now = options.now ?? Date.now;
    this.freshMs = options.freshMs ?? 60_000;
    this.probeEveryMs = options.probeEveryMs ?? 30_000;
  }

  /** What the traffic says, without probing. */
  known(): AcReachability {
    const { lastAnsweredAt, lastFailedAt } = this.options.usage;
    if (lastFailedAt !== null && (lastAnsweredAt === null || lastFailedAt > lastAnsweredAt)) return 'unreachable';
    if (lastAnsweredAt !== null && this.now() - lastAnsweredAt <= this.freshMs) return 'reachable';
    return 'unknown';
  }

  /** Probes when the traffic is silent or failing and the last probe is old enough; then answers. */
  async check(): Promise<AcReachability> {
    const known = this.known();
    if (known === 'reachable') return known;
    const due = this.lastProbeAt === null || this.now() - this.lastProbeAt >= this.probeEveryMs;
    if (due && this.probing === null) {
      this.lastProbeAt = this.now();
      this.probing = this.options.probe().then(
        () => undefined,
        () => undefined,
      ).finally(() => {
        this.probing = null;
      });
    }
    if (this.probing !== null) await this.probing;
    const after = this.known();
    // A probe that answered long ago still counts as "not failing": only a failure newer than the last answer is
    // unreachable, so a quiet instance between probes stays ready.
    if (after === 'unknown' && this.options.usage.lastAnsweredAt !== null) return 'reachable';
    return after;
  }
}
