// The HTTP surface over real HTTP on 127.0.0.1: authentication, body limits, error answers without internals,
// readiness, metrics, the admin endpoints the status page uses, and the page itself.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { engines, openTestDatabase, type TestDatabase } from '../support/test-databases';
import { createStore, type Store } from '../../src/store';
import { createMetrics, salesforceCallKind, type Metrics } from '../../src/observability/metrics';
import { createLogger } from '../../src/observability/logger';
import { createHttpApp, loggablePath, type Readiness } from '../../src/server/http-app';

const adminToken = 'admin-token-for-http-tests-0123456789';
const webhookSecret = 'webhook-secret-for-http-tests-0123456789';
const now = new Date('2026-03-02T10:30:00Z');

describe.each(engines)('HTTP surface on %s', (engine) => {
  let database: TestDatabase;
  let store: Store;
  let metrics: Metrics;
  let server: http.Server;
  let base: string;
  const logLines: string[] = [];
  const calls = { resyncEmail: [] as string[], resyncRecord: [] as string[], retried: [] as string[], reconciles: 0 };
  let readiness: () => Promise<Readiness>;
  let status: () => Promise<unknown>;

  beforeAll(async () => {
    database = await openTestDatabase(engine);
    store = await createStore(database.db, () => now, 'http-test');
    metrics = createMetrics({ now: () => now.getTime() });
    const logger = createLogger({ level: 'debug', secrets: [adminToken, webhookSecret], destination: { write: (line: string) => void logLines.push(line) } as unknown as pino.DestinationStream });
    const app = createHttpApp({
      store,
      metrics,
      logger,
      adminToken,
      webhookSecret,
      acRateLimitPerSecond: 5,
      now: () => now,
      onWebhookAccepted: () => undefined,
      status: () => status(),
      ready: () => readiness(),
      resyncEmail: async (email) => {
        calls.resyncEmail.push(email);
        return { records: 2 };
      },
      resyncRecord: async (recordId) => {
        calls.resyncRecord.push(recordId);
        return recordId.startsWith('003');
      },
      reconcile: async () => {
        calls.reconciles++;
        return 0;
      },
      retryDeadLetter: async (id) => {
        calls.retried.push(id);
        return id === '7';
      },
    });
    server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  beforeEach(() => {
    readiness = async () => ({ database: true, stream: true, leader: true, ac: 'reachable', degraded: [] });
    status = async () => ({ instanceId: 'test', leader: true });
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    await database?.drop();
  });

  const admin = (path: string, init: RequestInit = {}) =>
    fetch(base + path, { ...init, headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json', ...init.headers } });

  const adminEndpoints: [string, string][] = [
    ['GET', '/admin/status'],
    ['GET', '/admin/history/ada@example.com'],
    ['GET', '/admin/changes'],
    ['POST', '/admin/resync'],
    ['POST', '/admin/resync-record'],
    ['GET', '/admin/dead-letters'],
    ['POST', '/admin/dead-letters/1/retry'],
    ['POST', '/admin/reconcile'],
    ['GET', '/admin/quarantine'],
    ['GET', '/admin/series/opt-outs'],
    ['GET', '/admin/series/ac-usage'],
  ];

  test.each(adminEndpoints)('when %s %s is called without the token or with a wrong one, then it answers 401', async (method, path) => {
    const none = await fetch(base + path, { method });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    const wrong = await fetch(base + path, { method, headers: { authorization: `Bearer ${adminToken}x` } });
    expect(wrong.status).toBe(401);
    const basic = await fetch(base + path, { method, headers: { authorization: `Basic ${adminToken}` } });
    expect(basic.status).toBe(401);
    expect(calls.reconciles).toBe(0);
  });

  test('when an admin body is larger than 16 kB, then it answers 413, and without the token 401 before reading it', async () => {
    const big = JSON.stringify({ email: 'a@example.com', padding: 'x'.repeat(20_000) });
    const tooLarge = await admin('/admin/resync', { method: 'POST', body: big });
    expect(tooLarge.status).toBe(413);
    expect(await tooLarge.json()).toEqual({ error: 'body too large' });
    const anonymous = await fetch(base + '/admin/resync', { method: 'POST', body: big, headers: { 'content-type': 'application/json' } });
    expect(anonymous.status).toBe(401);
  });

  test('when a webhook body is larger than 64 kB, then it answers 413', async () => {
    const response = await fetch(`${base}/webhooks/activecampaign/${webhookSecret}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `type=unsubscribe&padding=${'x'.repeat(70_000)}`,
    });
    expect(response.status).toBe(413);
  });

  test('when a handler fails inside, then the client gets "internal error" without a stack trace and the log has the reason', async () => {
    status = async () => {
      throw new Error('database exploded at /srv/app/node_modules/pg/lib/client.js:42');
    };
    const response = await admin('/admin/status');
    expect(response.status).toBe(500);
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({ error: 'internal error' });
    expect(text).not.toMatch(/exploded|\.js|\bat\b/);
    expect(logLines.some((l) => l.includes('database exploded') && l.includes('request failed'))).toBe(true);
  });

  test('when the body is not JSON, then it answers 400 "bad request" without parser details', async () => {
    const response = await admin('/admin/resync', { method: 'POST', body: '{"email": ' });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: 'bad request' });
  });

  test('when everything is up, then /healthz and /readyz answer 200', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ok: true, status: 'ready', database: true, stream: true, leader: true, ac: 'reachable', degraded: [] });
  });

  test('when the instance is a standby, then it is ready without a stream', async () => {
    readiness = async () => ({ database: true, stream: 'standby', leader: false, ac: 'unknown', degraded: [] });
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });

  test('when ActiveCampaign is unreachable or a vendor keeps failing, then /readyz stays 200 (webhooks are still kept) and says degraded and why', async () => {
    readiness = async () => ({ database: true, stream: true, leader: true, ac: 'unreachable', degraded: [] });
    const unreachable = await fetch(`${base}/readyz`);
    expect(unreachable.status).toBe(200);
    expect(await unreachable.json()).toMatchObject({ ok: true, status: 'degraded', degraded: ['ActiveCampaign is unreachable'] });
    readiness = async () => ({ database: true, stream: true, leader: true, ac: 'reachable', degraded: ['ActiveCampaign refuses our credentials or permissions since 2026-12-04T10:00:00.000Z'] });
    expect(await (await fetch(`${base}/readyz`)).json()).toMatchObject({ status: 'degraded', degraded: [expect.stringContaining('refuses our credentials')] });
  });

  test('when the stream is down or the database fails, then /readyz answers 503', async () => {
    readiness = async () => ({ database: true, stream: false, leader: true, ac: 'reachable', degraded: [], streamDetail: { status: 'backing-off', nextAttemptAt: '2026-12-06T10:05:00.000Z', lastError: 'UNAVAILABLE: The service is unavailable' } });
    const down = await fetch(`${base}/readyz`);
    expect(down.status).toBe(503);
    // The operator woken by the 503 reads why and when the stream tries again.
    expect(await down.json()).toMatchObject({ status: 'unready', streamDetail: { status: 'backing-off', nextAttemptAt: '2026-12-06T10:05:00.000Z', lastError: expect.stringContaining('UNAVAILABLE') } });
    readiness = async () => {
      throw new Error('connection refused');
    };
    const failed = await fetch(`${base}/readyz`);
    expect(failed.status).toBe(503);
    expect(await failed.text()).not.toContain('connection refused');
  });

  test('when /metrics is scraped, then every product metric is listed in Prometheus text format', async () => {
    metrics.observeAcRequest({ method: 'GET', route: '/contacts', status: 429, durationMs: 3, outcome: 'rate-limited' });
    const response = await fetch(`${base}/metrics`);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    for (const name of ['optout_events_received_total', 'optout_echoes_dropped_total', 'optout_jobs_queued_total', 'optout_jobs_succeeded_total', 'optout_jobs_failed_total', 'optout_jobs_dead_total', 'optout_ac_requests_total', 'optout_ac_throttled_total', 'optout_sf_api_calls_total', 'optout_replay_lag_seconds', 'optout_poll_duration_seconds']) {
      expect(text).toContain(`# TYPE ${name}`);
    }
    expect(text).toContain('optout_ac_throttled_total 1');
    expect(text).toContain('optout_ac_requests_total{status="429"} 1');
  });

  test('when a record id is resynced, then a Contact id is queued, an unknown id is 404 and a malformed one 400', async () => {
    expect((await admin('/admin/resync-record', { method: 'POST', body: JSON.stringify({ recordId: '003000000000001AAA' }) })).status).toBe(202);
    expect((await admin('/admin/resync-record', { method: 'POST', body: JSON.stringify({ recordId: '00Q000000000001AAA' }) })).status).toBe(404);
    expect((await admin('/admin/resync-record', { method: 'POST', body: JSON.stringify({ recordId: "003'; DROP" }) })).status).toBe(400);
    expect(calls.resyncRecord).toEqual(['003000000000001AAA', '00Q000000000001AAA']);
  });

  test('when an email is resynced, then it is queued and the answer says how many records were found', async () => {
    const response = await admin('/admin/resync', { method: 'POST', body: JSON.stringify({ email: 'Ada@Example.com' }) });
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ queued: true, records: 2 });
    expect((await admin('/admin/resync', { method: 'POST', body: JSON.stringify({ email: 'not-an-email' }) })).status).toBe(400);
  });

  test('when a dead letter is retried, then a known id answers 202 and an unknown one 404', async () => {
    expect((await admin('/admin/dead-letters/7/retry', { method: 'POST' })).status).toBe(202);
    expect((await admin('/admin/dead-letters/8/retry', { method: 'POST' })).status).toBe(404);
    expect((await admin('/admin/dead-letters/x/retry', { method: 'POST' })).status).toBe(400);
  });

  test('when the audit log holds opt-outs in both directions, then the changes and the per-hour series show them', async () => {
    await store.audit.record([
      { direction: 'sf_to_ac', email: 'one@example.com', decision: 'unsubscribe-list', oldValue: 'list 1: 1', newValue: 'list 1: 2', reason: 'R1', result: 'unsubscribed' },
      { direction: 'sf_to_ac', email: 'one@example.com', decision: 'unsubscribe-list', oldValue: 'list 2: 1', newValue: 'list 2: 2', reason: 'R1', result: 'unsubscribed' },
      { direction: 'sf_to_ac', email: 'two@example.com', decision: 'unsubscribe-all-lists', reason: 'R1', result: 'not in ActiveCampaign' },
      { direction: 'ac_to_sf', email: 'three@example.com', recordId: '003000000000003AAA', decision: 'update-salesforce', oldValue: 'false', newValue: 'true', reason: 'R3', result: 'written' },
      { direction: 'ac_to_sf', email: 'four@example.com', decision: 'update-salesforce', oldValue: 'true', newValue: 'false', reason: 'R5', result: 'written' },
    ]);
    const changes = (await (await admin('/admin/changes?direction=ac_to_sf&limit=10')).json()) as { entries: { email: string }[] };
    expect(changes.entries.map((e) => e.email)).toEqual(['four@example.com', 'three@example.com']);
    expect((await admin('/admin/changes?limit=100000')).status).toBe(400);

    const series = (await (await admin('/admin/series/opt-outs?hours=3')).json()) as { hours: { hour: string; salesforceToAc: number; acToSalesforce: number }[] };
    expect(series.hours).toEqual([
      { hour: '2026-03-02T08:00:00.000Z', salesforceToAc: 0, acToSalesforce: 0 },
      { hour: '2026-03-02T09:00:00.000Z', salesforceToAc: 0, acToSalesforce: 0 },
      { hour: '2026-03-02T10:00:00.000Z', salesforceToAc: 2, acToSalesforce: 1 },
    ]);
  });

  test('when ActiveCampaign requests were made, then the usage series counts them per minute against the limit', async () => {
    const usage = (await (await admin('/admin/series/ac-usage?minutes=2')).json()) as { limitPerMinute: number; minutes: { minute: string; requests: number; throttled: number }[] };
    expect(usage.limitPerMinute).toBe(300);
    expect(usage.minutes).toEqual([
      { minute: '2026-03-02T10:29:00.000Z', requests: 0, throttled: 0 },
      { minute: '2026-03-02T10:30:00.000Z', requests: 1, throttled: 1 },
    ]);
  });

  test('when /status is opened, then the page and its script are served locally under a strict content security policy', async () => {
    for (const path of ['/status', '/status/']) {
      const page = await fetch(base + path);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toContain('text/html');
      expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
      const html = await page.text();
      expect(html).toContain('/status/status-page.js');
      expect(html).not.toMatch(/https?:\/\//);
    }
    const script = await fetch(`${base}/status/status-page.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toContain('javascript');
    expect((await fetch(`${base}/status/../package.json`)).status).toBe(404);
  });

  test('when a path is logged, then the webhook secret in it is replaced', () => {
    expect(loggablePath(`/webhooks/activecampaign/${webhookSecret}`)).toBe('/webhooks/activecampaign/[secret]');
    expect(salesforceCallKind('https://x.my.salesforce.com/services/data/v62.0/query?q=SELECT')).toBe('query');
    expect(salesforceCallKind('https://x/services/data/v62.0/sobjects/Contact/describe')).toBe('describe');
    expect(salesforceCallKind('https://x/services/data/v62.0/composite/sobjects')).toBe('composite');
  });

  test('when anything was logged by these tests, then neither the admin token nor the webhook secret appears', () => {
    const all = logLines.join('\n');
    expect(all).not.toContain(adminToken);
    expect(all).not.toContain(webhookSecret);
  });
});
