// Fuzzing the ActiveCampaign webhook receiver over real HTTP (createHttpApp with a real PGlite store): deliveries
// built from the AsyncAPI's payload fields (fixtures/activecampaign/activecampaign-webhooks.asyncapi.yml), then
// broken one way each. Every answer must be 200 (accepted or ignored), 400 (quarantined, reason naming the field)
// or 413 (body over the limit); after each bad delivery a valid one must still be accepted.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import pino from 'pino';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { openTestDatabase, type TestDatabase } from '../support/test-databases';
import { readFixtureText } from '../support/fixtures';
import { createStore, type Store } from '../../src/store';
import { createMetrics } from '../../src/observability/metrics';
import { createHttpApp } from '../../src/server/http-app';
import { badEmails, brokenUnicode, fuzzShares, hugeString, reportFuzzInputs, sampleInputs } from './input-mutations';

const secret = 'webhook-secret-for-fuzzing-0123456789';

/** Field names the AsyncAPI documents for a payload schema (bracket keys such as contact[email]). */
function documentedFields(schemaName: string): string[] {
  const text = readFixtureText('activecampaign/activecampaign-webhooks.asyncapi.yml');
  const start = text.indexOf(`\n    ${schemaName}:\n`);
  if (start < 0) throw new Error(`${schemaName} is not in the AsyncAPI`);
  const rest = text.slice(start + 1);
  const end = rest.slice(1).search(/\n {4}[A-Za-z]+:\n/);
  const block = end < 0 ? rest : rest.slice(0, end + 1);
  const names = [...block.matchAll(/^ {8,12}'?([A-Za-z_][\w[\]-]*)'?:\s*(\{|$)/gm)].map((m) => m[1] ?? '');
  return names.filter((n) => !['type', 'properties', 'description', 'allOf', 'required', 'enum', 'const', 'items', 'format', 'example'].includes(n));
}

type Form = [string, string][];

/** A plausible delivery of each opt-out-relevant type, with every field the AsyncAPI lists for it. */
function seedDeliveries(): Form[] {
  const byType: Record<string, string> = { subscribe: 'SubscribePayload', unsubscribe: 'UnsubscribePayload', bounce: 'CampaignBouncePayload', update: 'ContactUpdatePayload' };
  return Object.entries(byType).map(([type, schema]) => {
    const form: Form = [['type', type], ['date_time', '2026-01-05T09:00:00-05:00'], ['initiated_from', 'public'], ['initiated_by', 'contact'], ['contact[id]', '42'], ['contact[email]', 'seed@example.com']];
    for (const field of documentedFields(schema)) if (!form.some(([k]) => k === field)) form.push([field, field.includes('id') ? '7' : `value of ${field}`]);
    if (type === 'bounce') form.push(['bounce[type]', 'hard']);
    return form;
  });
}

type Breakage =
  | { kind: 'drop'; index: number }
  | { kind: 'replace'; index: number; value: string }
  | { kind: 'renest'; index: number; suffix: string }
  | { kind: 'duplicate'; index: number }
  | { kind: 'unknown-type'; value: string }
  | { kind: 'raw-bytes'; bytes: number[] }
  | { kind: 'huge'; size: number }
  | { kind: 'many-params'; count: number };

const weirdValue = fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom(...badEmails, ...brokenUnicode, '-1', 'abc', '0', '', '%', '%ZZ', '[]', '{}', hugeString(5000)));
const breakageArb: fc.Arbitrary<Breakage> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('drop' as const), index: fc.nat(40) }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('replace' as const), index: fc.nat(40), value: weirdValue }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('renest' as const), index: fc.nat(40), suffix: fc.constantFrom('[]', '[x]', '[0][id]', '[][]') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), index: fc.nat(40) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unknown-type' as const), value: fc.constantFrom('list_add', 'sms_unsub', 'UNSUBSCRIBE', 'x'.repeat(100)) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('raw-bytes' as const), bytes: fc.array(fc.integer({ min: 0x80, max: 0xff }), { minLength: 1, maxLength: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('huge' as const), size: fc.constantFrom(70_000, 1_000_000) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('many-params' as const), count: fc.constantFrom(600, 5000) }) },
);

/** Percent-encoding that also carries lone surrogates, as the invalid UTF-8 bytes (ED A0 80...) a sender would put on the wire. */
function percentEncode(value: string): string {
  let out = '';
  for (const char of value) {
    const unit = char.charCodeAt(0);
    if (char.length === 1 && unit >= 0xd800 && unit <= 0xdfff) {
      out += [0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    } else out += encodeURIComponent(char);
  }
  return out;
}

function encode(form: Form): string {
  return form.map(([k, v]) => `${percentEncode(k).replace(/%5B/g, '[').replace(/%5D/g, ']')}=${percentEncode(v)}`).join('&');
}

function broken(seed: Form, b: Breakage): { body: Buffer; field: string } {
  const form = seed.map(([k, v]) => [k, v] as [string, string]);
  const at = 'index' in b ? b.index % form.length : 0;
  const field = form[at]?.[0] ?? '';
  switch (b.kind) {
    case 'drop':
      form.splice(at, 1);
      return { body: Buffer.from(encode(form)), field };
    case 'replace':
      form[at] = [field, b.value];
      return { body: Buffer.from(encode(form)), field };
    case 'renest':
      form[at] = [`${field}${b.suffix}`, form[at]?.[1] ?? ''];
      return { body: Buffer.from(encode(form)), field };
    case 'duplicate':
      form.push([field, `${form[at]?.[1] ?? ''}-again`]);
      return { body: Buffer.from(encode(form)), field };
    case 'unknown-type':
      form[0] = ['type', b.value];
      return { body: Buffer.from(encode(form)), field: 'type' };
    case 'raw-bytes':
      // Bytes that are not UTF-8, unescaped, inside the email.
      return { body: Buffer.concat([Buffer.from(encode(form.filter(([k]) => k !== 'contact[email]'))), Buffer.from('&contact[email]='), Buffer.from(b.bytes), Buffer.from('@example.com')]), field: 'contact[email]' };
    case 'huge':
      return { body: Buffer.from(`${encode(form)}&note=${'A'.repeat(b.size)}`), field: 'note' };
    case 'many-params':
      return { body: Buffer.from(`${encode(form)}&${Array.from({ length: b.count }, (_, i) => `p${i}=1`).join('&')}`), field: 'p0' };
  }
}

describe('fuzzing the webhook endpoint over HTTP on pglite', () => {
  let database: TestDatabase;
  let store: Store;
  let server: Server;
  let url: string;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    database = await openTestDatabase('pglite');
    store = await createStore(database.db, () => new Date(), 'fuzz');
    const app = createHttpApp({
      store,
      metrics: createMetrics(),
      logger: pino({ level: 'silent' }),
      adminToken: 'admin-token-for-fuzzing-0123456789',
      webhookSecret: secret,
      onWebhookAccepted: () => undefined,
      acRateLimitPerSecond: 5,
      status: async () => ({}),
      ready: async () => ({ database: true, stream: true, leader: true, ac: 'reachable' as const, degraded: [] }),
      resyncEmail: async () => undefined,
      resyncRecord: async () => false,
      reconcile: async () => 0,
      retryDeadLetter: async () => false,
    });
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/activecampaign/${secret}`;
  });

  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await database.drop();
  });

  async function post(body: Buffer): Promise<{ status: number; json: Record<string, unknown> }> {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    const text = await response.text();
    try {
      return { status: response.status, json: JSON.parse(text) as Record<string, unknown> };
    } catch {
      return { status: response.status, json: { unparsed: text.slice(0, 100) } };
    }
  }

  test(`when ${fuzzShares.webhooks} broken deliveries arrive, then each is accepted, ignored, refused with a quarantined reason naming the field, or refused as too large, and the valid delivery after each is accepted`, async () => {
    const seeds = seedDeliveries();
    const inputs = sampleInputs(fc.tuple(fc.nat(seeds.length - 1), breakageArb), fuzzShares.webhooks, 8_2028);
    const problems: string[] = [];
    let refused = 0;
    const quarantineCount = async () => Number((await store.db.query('SELECT count(*) AS n FROM quarantine')).rows.map((r) => (r as { n: unknown }).n)[0] ?? 0);
    let quarantinedBefore = await quarantineCount();
    for (const [n, [seedIndex, breakage]] of inputs.entries()) {
      const { body, field } = broken(seeds[seedIndex]!, breakage);
      const answer = await post(body);
      const label = `${breakage.kind} ${field} (${JSON.stringify(breakage).slice(0, 80)})`;
      if (answer.status === 400) {
        refused++;
        const rows = await store.quarantine.list(1);
        const quarantined = await quarantineCount();
        if (quarantined !== quarantinedBefore + 1) problems.push(`${label}: 400 without a quarantined input`);
        quarantinedBefore = quarantined;
        const reason = String(answer.json.reason ?? '');
        if (rows[0]?.reason !== reason || !/→ at (type|date_time|contact|contact\.id|contact\.email|initiated_from|initiated_by)\b/.test(reason)) problems.push(`${label}: reason does not name a field: ${reason.slice(0, 120)}`);
      } else if (answer.status === 413) {
        if (breakage.kind !== 'huge' && breakage.kind !== 'many-params') problems.push(`${label}: 413 for a small body`);
      } else if (answer.status !== 200) {
        problems.push(`${label}: HTTP ${answer.status} ${JSON.stringify(answer.json).slice(0, 120)}`);
      }
      // The valid delivery right after: accepted and stored (a fresh contact id, so never a duplicate).
      const valid = await post(Buffer.from(encode([['type', 'unsubscribe'], ['date_time', '2026-01-05T09:00:00-05:00'], ['contact[id]', String(100_000 + n)], ['contact[email]', `valid-${n}@example.com`], ['list', '1']])));
      if (valid.status !== 200 || valid.json.accepted !== true || valid.json.duplicate !== false) problems.push(`${label}: the next valid delivery got ${valid.status} ${JSON.stringify(valid.json)}`);
    }
    reportFuzzInputs('webhook endpoint', inputs.length);
    expect(problems.slice(0, 30)).toEqual([]);
    expect(refused).toBeGreaterThan(fuzzShares.webhooks / 10);
    expect(unhandled).toEqual([]);
    // Every valid delivery was stored durably before its 200.
    expect((await store.webhookInbox.pending(100_000)).filter((p) => JSON.stringify(p.payload).includes('valid-')).length).toBe(fuzzShares.webhooks);
  }, 60_000);
});
