// Prometheus metrics (prom-client), one registry per app instance so that tests can run several side by side.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AcRequestInfo } from '../activecampaign/activecampaign-client';
import { AcUsage } from './ac-usage';

export function createMetrics(options: { now?: () => number } = {}) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const m = {
    registry,
    eventsReceived: new Counter({ name: 'optout_events_received_total', help: 'Streaming messages received, by channel', labelNames: ['channel'], registers: [registry] }),
    echoesDropped: new Counter({ name: 'optout_echoes_dropped_total', help: 'Changes dropped because this product wrote them (R6)', registers: [registry] }),
    quarantined: new Counter({ name: 'optout_quarantined_total', help: 'Inputs quarantined, by source', labelNames: ['source'], registers: [registry] }),
    jobsQueued: new Counter({ name: 'optout_jobs_queued_total', help: 'Jobs queued, by kind', labelNames: ['kind'], registers: [registry] }),
    jobsSucceeded: new Counter({ name: 'optout_jobs_succeeded_total', help: 'Jobs done, by kind', labelNames: ['kind'], registers: [registry] }),
    jobsFailed: new Counter({ name: 'optout_jobs_failed_total', help: 'Job attempts that failed, by kind', labelNames: ['kind'], registers: [registry] }),
    jobsDead: new Counter({ name: 'optout_jobs_dead_total', help: 'Jobs moved to dead letters, by kind', labelNames: ['kind'], registers: [registry] }),
    acRequests: new Counter({ name: 'optout_ac_requests_total', help: 'ActiveCampaign requests, by status', labelNames: ['status'], registers: [registry] }),
    acThrottled: new Counter({ name: 'optout_ac_throttled_total', help: 'ActiveCampaign 429 answers', registers: [registry] }),
    sfApiCalls: new Counter({ name: 'optout_sf_api_calls_total', help: 'Salesforce REST calls, by kind', labelNames: ['kind'], registers: [registry] }),
    sfApiUsage: new Gauge({ name: 'optout_sf_api_usage', help: "The org's API requests of the last 24 hours, from Sforce-Limit-Info", registers: [registry] }),
    sfApiLimit: new Gauge({ name: 'optout_sf_api_limit', help: "The org's daily API request limit, from Sforce-Limit-Info", registers: [registry] }),
    replayLagSeconds: new Gauge({ name: 'optout_replay_lag_seconds', help: 'Now minus the commit time of the last event handled, by channel', labelNames: ['channel'], registers: [registry] }),
    pollDuration: new Histogram({ name: 'optout_poll_duration_seconds', help: 'Duration of one ActiveCampaign poll', buckets: [0.1, 0.5, 1, 5, 15, 60, 300], registers: [registry] }),
    // Set by the consent-health check (workers/consent-health.ts) before every scrape and status read.
    oldestPendingOptOutAge: new Gauge({ name: 'optout_oldest_pending_optout_age_seconds', help: 'Age of the oldest opt-out still waiting to reach the other side (push or pull), 0 when none waits', registers: [registry] }),
    vendorCircuitOpen: new Gauge({ name: 'optout_vendor_circuit_open', help: '1 while the circuit of a vendor is open (it keeps failing; work waits and one probe at a time goes through)', labelNames: ['vendor'], registers: [registry] }),
    pushLatency: new Histogram({ name: 'optout_push_latency_seconds', help: 'Salesforce commit to all lists unsubscribed', buckets: [0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30], registers: [registry] }),
    reconcileDrift: new Counter({ name: 'optout_reconcile_drift_total', help: 'Drift found by the full reconciliation, by direction (sf-to-ac: R1 not applied in AC; ac-to-sf: R3/R4 not applied in Salesforce)', labelNames: ['direction', 'dry_run'], registers: [registry] }),
    reconcileLastRun: new Gauge({ name: 'optout_reconcile_last_run_timestamp_seconds', help: 'When the last full reconciliation finished (Unix time)', labelNames: ['dry_run'], registers: [registry] }),
    reconcileDuration: new Gauge({ name: 'optout_reconcile_last_duration_seconds', help: 'How long the last full reconciliation took', labelNames: ['dry_run'], registers: [registry] }),
    /** Minute buckets of AC use and the last AC answer, for readiness and the status page's chart. */
    acUsage: new AcUsage(options.now),
    /** The AC client's onRequest hook. */
    observeAcRequest(info: AcRequestInfo): void {
      m.acRequests.inc({ status: String(info.status ?? info.outcome) });
      if (info.outcome === 'rate-limited') m.acThrottled.inc();
      m.acUsage.record(info);
    },
    /** The Salesforce REST client's onApiUsage hook (every answer's Sforce-Limit-Info). */
    observeSalesforceApiUsage(usage: { used: number; max: number }): void {
      m.sfApiUsage.set(usage.used);
      m.sfApiLimit.set(usage.max);
    },
  };
  return m;
}
export type Metrics = ReturnType<typeof createMetrics>;

/**
 * Wraps the fetch the Salesforce REST client uses so that every API call (they count against the org's daily
 * API limit) is counted where it happens, by kind: query, composite, sobjects, describe, limits.
 */
export function countingSalesforceFetch(metrics: Pick<Metrics, 'sfApiCalls'>, fetchImpl: typeof fetch = fetch): typeof fetch {
  return (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    metrics.sfApiCalls.inc({ kind: salesforceCallKind(url) });
    return fetchImpl(input, init);
  };
}

export function salesforceCallKind(url: string): string {
  const path = new URL(url, 'http://x').pathname;
  const rest = path.replace(/^\/services\/data\/v[\d.]+/, '');
  if (rest.startsWith('/query')) return 'query';
  if (rest.startsWith('/composite')) return 'composite';
  if (rest.endsWith('/describe')) return 'describe';
  if (rest.startsWith('/limits')) return 'limits';
  if (rest.startsWith('/jobs/query')) return 'bulk-query';
  if (rest.startsWith('/sobjects')) return 'sobjects';
  return 'other';
}
