// Webhook deliveries against the AsyncAPI fields (fixtures/activecampaign/activecampaign-webhooks.asyncapi.yml),
// received by a real express app with urlencoded({extended:true}) on 127.0.0.1, as a consumer would.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { readFixtureText } from '../../support/fixtures';
import { waitFor } from '../../support/wait-for';
import { startActiveCampaignEmulator, type ActiveCampaignEmulator } from '../../../src/sandbox/activecampaign';
import { acCall } from './ac-http';

interface Received {
  path: string;
  contentType: string;
  body: Record<string, unknown>;
}

interface Receiver {
  url: string;
  received: Received[];
  answerWith: (status: number) => void;
  close: () => Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  let status = 200;
  const app = express();
  app.use(express.urlencoded({ extended: true }));
  app.post('/{*rest}', (req, res) => {
    received.push({
      path: req.path,
      contentType: req.get('content-type') ?? '',
      body: req.body as Record<string, unknown>,
    });
    res.status(status).end();
  });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    answerWith: (s) => {
      status = s;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Property names the AsyncAPI lists for one payload schema (its own block plus the referenced blocks). */
function asyncApiFields(schemaName: string): string[] {
  const text = readFixtureText('activecampaign/activecampaign-webhooks.asyncapi.yml');
  const section = (name: string): string => {
    const start = text.indexOf(`\n    ${name}:\n`);
    if (start < 0) throw new Error(`schema ${name} not in the AsyncAPI`);
    const rest = text.slice(start + 1);
    const end = rest.slice(1).search(/\n {4}[A-Za-z]+:\n/);
    return end < 0 ? rest : rest.slice(0, end + 1);
  };
  const own = section(schemaName);
  const refs = [...own.matchAll(/#\/components\/schemas\/(\w+)/g)].map((m) => m[1] ?? '');
  const names = new Set<string>();
  for (const block of [own, ...refs.map(section)]) {
    for (const m of block.matchAll(/^ {8,12}'?([A-Za-z_][\w[\]*-]*)'?:\s*(\{|$)/gm)) {
      const name = m[1] ?? '';
      if (!['type', 'properties', 'description', 'allOf', 'required', 'enum', 'const', 'items'].includes(name))
        names.add(name);
    }
  }
  // `type` is both a YAML keyword and the envelope's required discriminator property.
  names.add('type');
  return [...names].filter((n) => !n.includes('*'));
}

/** Flattens an extended-urlencoded body back to its bracket keys, e.g. {contact:{id}} -> contact[id]. */
function bracketKeys(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object') return [prefix];
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => {
    const key = prefix === '' ? k : Array.isArray(value) ? `${prefix}[]` : `${prefix}[${k}]`;
    return bracketKeys(v, key);
  });
}

describe('AC emulator webhooks', () => {
  let emu: ActiveCampaignEmulator;
  let receiver: Receiver;

  beforeEach(async () => {
    receiver = await startReceiver();
    emu = await startActiveCampaignEmulator({ rateLimitPerSecond: 1000, utcOffset: '-05:00' });
    emu.createList('Newsletter');
    emu.createList('Product news');
  });
  afterEach(async () => {
    await emu.close();
    await receiver.close();
  });

  async function register(webhook: Record<string, unknown>): Promise<void> {
    const answer = await acCall(emu, 'POST', '/webhooks', { webhook });
    expect(answer.status).toBe(201);
  }

  test('when a person unsubscribes, then an unsubscribe payload with the AsyncAPI fields arrives form-encoded', async () => {
    await register({
      name: 'optout',
      url: `${receiver.url}/hook/secret`,
      events: ['unsubscribe'],
      sources: ['public'],
    });
    emu.createContact('jane@example.com', { firstName: 'Jane', lists: { '1': 1, '2': 1 } });
    emu.unsubscribe('jane@example.com', '1', { reason: 'too many emails' });
    const [delivery] = await waitFor(() => (receiver.received.length === 1 ? receiver.received : undefined), {
      what: 'one delivery',
    });
    expect(delivery?.contentType).toContain('application/x-www-form-urlencoded');
    const body = delivery?.body ?? {};
    expect(body.type).toBe('unsubscribe');
    expect(body.initiated_from).toBe('public');
    expect(String(body.date_time)).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}-05:00$/);
    expect(body.contact).toMatchObject({ id: '1', email: 'jane@example.com', first_name: 'Jane' });
    expect(body.unsubscribe).toEqual({ reason: 'too many emails' });
    // The contact is still active on list 2.
    expect(body.active_subscriptions).toEqual(['2']);
    // `list` and `list[][id]` merge under a qs-style parser: ["1", [{id:"1"}]]-like shapes must be expected.
    expect(JSON.stringify(body.list)).toContain('"1"');
    const sent = Object.keys(emu.webhookDeliveries[0]?.fields ?? {});
    const documented = new Set(asyncApiFields('UnsubscribePayload'));
    expect(sent.filter((k) => !documented.has(k))).toEqual([]);
    for (const key of [
      'type',
      'date_time',
      'initiated_from',
      'initiated_by',
      'list',
      'contact[id]',
      'contact[email]',
      'list[][id]',
      'unsubscribe[reason]',
    ]) {
      expect(sent).toContain(key);
    }
    expect(bracketKeys(body)).toEqual(expect.arrayContaining(['contact[id]', 'contact[email]', 'unsubscribe[reason]']));
  });

  test('when subscribe, bounce and update happen, then each payload uses only AsyncAPI fields of its type', async () => {
    await register({
      name: 'all',
      url: `${receiver.url}/hook`,
      events: ['subscribe', 'bounce', 'update'],
      sources: ['public', 'admin', 'api', 'system'],
    });
    emu.subscribe('sam@example.com', '1');
    emu.hardBounce('sam@example.com');
    emu.updateEmail('sam@example.com', 'samuel@example.com');
    await waitFor(() => receiver.received.length === 3, { what: 'three deliveries' });
    const byType = Object.fromEntries(emu.webhookDeliveries.map((d) => [d.type, d.fields]));
    const schemaOf = {
      subscribe: 'SubscribePayload',
      bounce: 'CampaignBouncePayload',
      update: 'ContactUpdatePayload',
    } as const;
    for (const [type, schema] of Object.entries(schemaOf)) {
      const documented = new Set(asyncApiFields(schema));
      expect(Object.keys(byType[type] ?? {}).filter((k) => !documented.has(k))).toEqual([]);
    }
    expect(byType.bounce?.['bounce[type]']).toBe('hard');
    expect(byType.bounce?.initiated_from).toBe('system');
    expect(byType.update?.['contact[email]']).toBe('samuel@example.com');
    expect(byType.update?.initiated_from).toBe('admin');
    expect(receiver.received.map((r) => r.body.type)).toEqual(['subscribe', 'bounce', 'update']);
  });

  test('when changes come from the API, an admin and a bulk import, then only the hook sources registered fire and imports fire none', async () => {
    await register({
      name: 'api-only',
      url: `${receiver.url}/api`,
      events: ['subscribe', 'unsubscribe'],
      sources: ['api'],
    });
    emu.createContact('ann@example.com', { lists: { '1': 1 } });
    emu.unsubscribe('ann@example.com', '1', { source: 'admin' });
    const api = await acCall(emu, 'POST', '/contactLists', { contactList: { list: 2, contact: 1, status: 1 } });
    expect(api.status).toBe(200);
    const imported = await acCall(emu, 'POST', '/import/bulk_import', {
      contacts: [{ email: 'ann@example.com', unsubscribe: [{ listid: 2 }] }],
    });
    expect(imported.status).toBe(200);
    emu.flushImports();
    await emu.webhooksIdle();
    expect(emu.contactByEmail('ann@example.com')?.lists).toEqual({ '1': 2, '2': 2 });
    expect(receiver.received.map((r) => [r.body.type, r.body.initiated_from, r.body.list])).toEqual([
      ['subscribe', 'api', '2'],
    ]);
  });

  test('when a hook is scoped to a list, then changes on other lists do not reach it', async () => {
    await register({
      name: 'list-2',
      url: `${receiver.url}/l2`,
      events: ['unsubscribe'],
      sources: ['public'],
      listid: 2,
    });
    emu.createContact('bo@example.com', { lists: { '1': 1, '2': 1 } });
    emu.unsubscribe('bo@example.com', 'all');
    await emu.webhooksIdle();
    expect(receiver.received.map((r) => r.path)).toEqual(['/l2']);
    expect(emu.webhookDeliveries.map((d) => d.list)).toEqual(['2']);
  });

  test('when the receiver answers 500, then the delivery is not retried; when it answers 410, then the hook goes inactive', async () => {
    await register({ name: 'h', url: `${receiver.url}/h`, events: ['unsubscribe', 'subscribe'], sources: ['public'] });
    emu.createContact('cy@example.com', { lists: { '1': 1, '2': 1 } });
    receiver.answerWith(500);
    emu.unsubscribe('cy@example.com', '1');
    await emu.webhooksIdle();
    expect(receiver.received).toHaveLength(1);
    receiver.answerWith(410);
    emu.unsubscribe('cy@example.com', '2');
    await emu.webhooksIdle();
    expect(emu.webhookDeliveries.map((d) => [d.status, d.deactivatedHook])).toEqual([
      [500, false],
      [410, true],
    ]);
    emu.subscribe('cy@example.com', '1');
    await emu.webhooksIdle();
    expect(receiver.received).toHaveLength(2);
  });

  test('when a share of deliveries is lost on the way, then exactly that share never arrives and none is sent again', async () => {
    await register({ name: 'lossy', url: `${receiver.url}/lossy`, events: ['unsubscribe', 'subscribe'], sources: ['public'] });
    emu.createContact('lo@example.com', { lists: { '1': 1 } });
    emu.configure({ webhookDropShare: 0.25 });
    for (let i = 0; i < 4; i += 1) {
      emu.unsubscribe('lo@example.com', '1');
      emu.subscribe('lo@example.com', '1');
    }
    await emu.webhooksIdle();
    expect(receiver.received).toHaveLength(6);
    expect(emu.webhookDeliveries.filter((d) => d.error !== undefined && d.status === undefined)).toHaveLength(2);
    // Known when the change is queued, before any delivery is attempted.
    expect(emu.webhookDispatches.map((d) => [d.type, d.lost])).toEqual([
      ['unsubscribe', 0], ['subscribe', 0], ['unsubscribe', 0], ['subscribe', 1],
      ['unsubscribe', 0], ['subscribe', 0], ['unsubscribe', 0], ['subscribe', 1],
    ]);
  });

  test('when deliveries are held for a reorder window, then each still arrives once and a later change can arrive first', async () => {
    await register({ name: 'late', url: `${receiver.url}/late`, events: ['unsubscribe', 'subscribe'], sources: ['public'] });
    emu.createContact('ro@example.com', { lists: { '1': 1 } });
    emu.configure({ webhookReorderWindowMs: 400 });
    for (let i = 0; i < 5; i += 1) {
      emu.unsubscribe('ro@example.com', '1');
      emu.subscribe('ro@example.com', '1');
    }
    await emu.webhooksIdle();
    expect(receiver.received).toHaveLength(10);
    const types = receiver.received.map((r) => r.body.type);
    expect(types).not.toEqual(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? 'unsubscribe' : 'subscribe')));
  });

  test('when a hook is deleted, then it is gone from the list and receives nothing', async () => {
    await register({ name: 'gone', url: `${receiver.url}/gone`, events: ['subscribe'], sources: ['public'] });
    expect((await acCall(emu, 'DELETE', '/webhooks/1')).status).toBe(200);
    const listed = await acCall(emu, 'GET', '/webhooks');
    expect(listed.json).toEqual({ webhooks: [], meta: { total: '0' } });
    emu.subscribe('dee@example.com', '1');
    await emu.webhooksIdle();
    expect(receiver.received).toHaveLength(0);
  });
});
