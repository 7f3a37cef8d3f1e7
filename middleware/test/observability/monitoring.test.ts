// The monitoring an operator imports as is: Prometheus alert rules and a Grafana dashboard. promtool (Debian's
// `prometheus` package, installed by .ci/run) checks the rules, runs their unit tests, and checks every dashboard
// query as PromQL; every metric they name must be one the middleware exports, so a renamed metric cannot leave an
// alert silently empty.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import { createMetrics } from '../../src/observability/metrics';
import { registerStreamGauges } from '../../src/observability/stream-metrics';

const monitoring = path.resolve(__dirname, '../../../monitoring');
const rulesFile = path.join(monitoring, 'prometheus/optout-sync-rules.yml');
const rulesTestFile = path.join(monitoring, 'prometheus/optout-sync-rules.test.yml');
const dashboardFile = path.join(monitoring, 'grafana/optout-sync-dashboard.json');
const hasPromtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;
const withPromtool = hasPromtool ? test : test.skip;

/** Metrics being added alongside this change (the queue's oldest opt-out, the vendor circuit breakers). */
const announcedMetrics = ['optout_oldest_pending_optout_age_seconds', 'optout_vendor_circuit_open'];

const rulesSchema = z.object({
  groups: z.array(z.object({ name: z.string(), rules: z.array(z.object({ alert: z.string(), expr: z.string(), for: z.string().optional(), labels: z.object({ severity: z.enum(['critical', 'warning', 'info']) }), annotations: z.object({ summary: z.string(), description: z.string() }) })) })),
});
const dashboardSchema = z.object({
  uid: z.string(),
  title: z.string(),
  panels: z.array(z.object({ id: z.number(), type: z.string(), title: z.string(), gridPos: z.object({ h: z.number(), w: z.number(), x: z.number(), y: z.number() }), targets: z.array(z.object({ expr: z.string(), refId: z.string() })).optional() })),
});

async function exportedMetricNames(): Promise<Set<string>> {
  const metrics = createMetrics();
  registerStreamGauges(metrics.registry, () => ({ leader: true, connected: true }));
  const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name);
  return new Set([...names, ...announcedMetrics]);
}

/** Metric names in a PromQL expression (histogram series map back to their histogram). */
function metricNames(expr: string): string[] {
  const found = expr.match(/\b(optout|process|nodejs)_[a-z0-9_]+\b/g) ?? [];
  return found.map((n) => n.replace(/_(bucket|count|sum)$/, ''));
}

const rules = rulesSchema.parse(parse(fs.readFileSync(rulesFile, 'utf8')));
const alerts = rules.groups.flatMap((g) => g.rules);
const dashboard = dashboardSchema.parse(JSON.parse(fs.readFileSync(dashboardFile, 'utf8')));
const dashboardExprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

describe('Prometheus alert rules', () => {
  test('when the rules are read, then the situations operators asked for each have an alert', () => {
    const names = alerts.map((a) => a.alert);
    for (const name of ['OptOutSyncOptOutWaiting', 'OptOutSyncOptOutStuck', 'OptOutSyncDeadLetters', 'OptOutSyncStreamDisconnected', 'OptOutSyncActiveCampaignThrottled', 'OptOutSyncSalesforceApiUse', 'OptOutSyncVendorCircuitOpen']) {
      expect(names).toContain(name);
    }
    expect(new Set(names).size).toBe(names.length);
  });

  test('when a rule names a metric, then the middleware exports it', async () => {
    const exported = await exportedMetricNames();
    for (const alert of alerts) for (const name of metricNames(alert.expr)) expect({ alert: alert.alert, name, exported: exported.has(name) }).toEqual({ alert: alert.alert, name, exported: true });
  });

  withPromtool('when promtool checks the rules and runs their unit tests, then both pass', () => {
    expect(execFileSync('promtool', ['check', 'rules', rulesFile], { encoding: 'utf8' })).toMatch(/SUCCESS: \d+ rules found/);
    expect(execFileSync('promtool', ['test', 'rules', rulesTestFile], { cwd: path.dirname(rulesTestFile), encoding: 'utf8' })).toMatch(/SUCCESS/);
  });
});

describe('Grafana dashboard', () => {
  test('when the dashboard is read, then panels have unique ids, fit the 24-column grid and every query names an exported metric', async () => {
    expect(dashboard.uid).toBe('optout-sync');
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels) expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
    const exported = await exportedMetricNames();
    expect(dashboardExprs.length).toBeGreaterThan(15);
    for (const { panel, expr } of dashboardExprs) {
      const names = metricNames(expr);
      expect({ panel, names: names.length > 0 }).toEqual({ panel, names: true });
      for (const name of names) expect({ panel, name, exported: exported.has(name) }).toEqual({ panel, name, exported: true });
    }
    // The dashboard shows what the alerts watch.
    for (const name of ['optout_oldest_pending_optout_age_seconds', 'optout_stream_connected', 'optout_vendor_circuit_open', 'optout_jobs_dead_total', 'optout_ac_throttled_total', 'optout_sf_api_calls_total']) {
      expect(dashboardExprs.some((e) => e.expr.includes(name))).toBe(true);
    }
  });

  withPromtool('when promtool reads every dashboard query as a recording rule, then each is valid PromQL', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'optout-dashboard-')), 'dashboard-queries.yml');
    fs.writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules: dashboardExprs.map((e, i) => ({ record: `dashboard:query_${i}`, expr: e.expr })) }] }));
    expect(execFileSync('promtool', ['check', 'rules', file], { encoding: 'utf8' })).toMatch(new RegExp(`SUCCESS: ${dashboardExprs.length} rules found`));
  });
});
