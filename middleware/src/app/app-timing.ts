// The loops' and edges' timings: production defaults; tests shorten them (AppOptions.timing).
export interface AppTiming {
  workerIdleMs: number;
  leaseTtlMs: number;
  leaseRenewMs: number;
  streamServerTimeoutMs: number;
  fayeRetrySeconds: number;
  busyBackoffMs: number;
  pollEveryMs: number | null;
  fullPassEveryMs: number;
  acTimeoutMs: number;
  /** Longest a Salesforce REST call may take; a slower one fails as transient and is tried again. */
  sfTimeoutMs: number;
  /** How long Salesforce writes pause when the org's daily API limit refuses a call (REQUEST_LIMIT_EXCEEDED). */
  sfLimitPauseMs: number;
  bulkPollIntervalMs: number;
  /** Longest a bulk round waits for AC to report its imports done; then their contacts are verified by the single path. */
  bulkMaxWaitMs: number;
  /** How often a Bulk API 2.0 query job's state is read while the full reconciliation waits for it. */
  sfBulkQueryPollMs: number;
  /** Lock time of a claimed queue job, renewed every leaseRenewMs while this instance lives (a crashed instance's jobs are taken over after it). */
  jobLeaseMs: number;
  /** How long the pull worker waits for a full Collections batch during a burst (see PullWorker.lingerMs). */
  pullLingerMs: number;
  /** How long webhook deliveries wait for others to share one confirming AC read (see WebhookProcessor.lingerMs). */
  webhookLingerMs: number;
  /** Vendor circuits (workers/vendor-circuit.ts): consecutive failures that open one, and the probes' spacing. */
  circuitFailureThreshold: number;
  circuitFirstProbeMs: number;
  circuitMaxProbeMs: number;
  /** How often the integration user's access to the opt-out field is checked again (two describes). */
  permissionCheckEveryMs: number;
}

export const defaultTiming: AppTiming = {
  workerIdleMs: 1000,
  leaseTtlMs: 20_000,
  leaseRenewMs: 5_000,
  streamServerTimeoutMs: 110_000,
  fayeRetrySeconds: 5,
  busyBackoffMs: 60_000,
  pollEveryMs: null,
  fullPassEveryMs: 6 * 3600_000,
  acTimeoutMs: 30_000,
  sfTimeoutMs: 30_000,
  sfLimitPauseMs: 5 * 60_000,
  bulkPollIntervalMs: 2000,
  bulkMaxWaitMs: 10 * 60_000,
  sfBulkQueryPollMs: 2000,
  jobLeaseMs: 30_000,
  // Longer than the webhook linger: deliveries confirmed in rounds of up to 2 s still count as one burst here.
  pullLingerMs: 5000,
  webhookLingerMs: 2000,
  circuitFailureThreshold: 3,
  circuitFirstProbeMs: 2000,
  circuitMaxProbeMs: 60_000,
  permissionCheckEveryMs: 5 * 60_000,
};
