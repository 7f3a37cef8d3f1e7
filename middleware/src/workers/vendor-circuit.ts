// A circuit breaker per vendor. While a vendor keeps failing (an outage, a rotated token, a daily limit), every
// worker that called it would take job after job, fail each, and push all of them further back with growing
// delays; after the outage the backlog would trickle out over the back-off instead of draining at once. So after a
// few consecutive vendor failures the circuit opens: the workers take no job for that vendor except one probe at a
// time, spaced by a capped back-off; the first success closes it and the waiting work runs at full speed again.
// Jobs not taken use no attempt: an outage of a week costs opt-outs that week, never their delivery.
import type { Clock } from '../store/clock';
import type { FailureClass, FailingVendor } from './failure-class';

export type CircuitGate = 'closed' | 'probe' | 'open';

export interface CircuitState {
  vendor: Exclude<FailingVendor, 'internal'>;
  open: boolean;
  /** When the circuit opened (the outage as we saw it began at the first of the consecutive failures). */
  openSince: Date | null;
  failingSince: Date | null;
  consecutiveFailures: number;
  /** The failure class and message of the last failure: what /readyz and the status page show. */
  lastFailure: { failureClass: FailureClass; message: string; at: Date } | null;
  nextProbeAt: Date | null;
}

export interface VendorCircuitOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold?: number;
  /** First wait between probes; doubles per failed probe up to maxProbeDelayMs. */
  firstProbeDelayMs?: number;
  maxProbeDelayMs?: number;
  clock: Clock;
  onChange?: (state: CircuitState) => void;
}

export class VendorCircuit {
  private consecutiveFailures = 0;
  private failingSince: Date | null = null;
  private openSince: Date | null = null;
  private nextProbeAt: Date | null = null;
  private probeDelayMs: number;
  private probeInFlight = false;
  private lastFailure: CircuitState['lastFailure'] = null;

  constructor(
    readonly vendor: Exclude<FailingVendor, 'internal'>,
    private readonly options: VendorCircuitOptions,
  ) {
    this.probeDelayMs = options.firstProbeDelayMs ?? 2_000;
  }

  /**
   * Whether work for this vendor may start now: 'closed' (all of it), 'probe' (one call, whose outcome the caller
   * must report with succeeded() or failed(); the gate stays shut until then), 'open' (none).
   */
  gate(): CircuitGate {
    if (this.openSince === null) return 'closed';
    if (this.probeInFlight) return 'open';
    if (this.nextProbeAt !== null && this.options.clock().getTime() < this.nextProbeAt.getTime()) return 'open';
    this.probeInFlight = true;
    return 'probe';
  }

  /** A probe was allowed but no work was there to send: the next caller may probe. */
  probeUnused(): void {
    this.probeInFlight = false;
  }

  succeeded(): void {
    const wasOpen = this.openSince !== null;
    this.consecutiveFailures = 0;
    this.failingSince = null;
    this.openSince = null;
    this.nextProbeAt = null;
    this.probeInFlight = false;
    this.probeDelayMs = this.options.firstProbeDelayMs ?? 2_000;
    if (wasOpen) this.options.onChange?.(this.state());
  }

  /**
   * No work for this vendor waits any more (another instance did it, or it merged away): there is nothing to probe
   * with and nothing to protect, so the circuit closes; the next job finds out afresh. Without it an idle instance
   * stayed open, and degraded, for good. (Closing on any other answer from the vendor was tried: a partial outage,
   * one path failing while another answers, then flapped.)
   */
  nothingWaits(): void {
    if (this.openSince !== null) this.succeeded();
  }

  failed(failureClass: FailureClass, message: string): void {
    const now = this.options.clock();
    this.consecutiveFailures++;
    this.failingSince ??= now;
    this.lastFailure = { failureClass, message: message.slice(0, 300), at: now };
    const wasOpen = this.openSince !== null;
    if (!wasOpen && this.consecutiveFailures < (this.options.failureThreshold ?? 3)) return;
    if (wasOpen && this.probeInFlight) this.probeDelayMs = Math.min(this.options.maxProbeDelayMs ?? 60_000, this.probeDelayMs * 2);
    this.openSince ??= now;
    this.probeInFlight = false;
    this.nextProbeAt = new Date(now.getTime() + this.probeDelayMs);
    if (!wasOpen) this.options.onChange?.(this.state());
  }

  state(): CircuitState {
    return {
      vendor: this.vendor,
      open: this.openSince !== null,
      openSince: this.openSince,
      failingSince: this.failingSince,
      consecutiveFailures: this.consecutiveFailures,
      lastFailure: this.lastFailure,
      nextProbeAt: this.nextProbeAt,
    };
  }
}
