import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import avro from 'avsc';
import { startSalesforceEmulator, type SalesforceEmulator } from '../../../../src/sandbox/salesforce';
import { encodeFieldBitmap, pubSubErrorCodes } from '../../../../src/sandbox/salesforce/pubsub';
import type { AvroRecordSchema } from '../../../../src/sandbox/salesforce/pubsub/avro-schemas';
import { waitFor } from '../../../support/wait-for';
import { authMetadata, collect, rawPubSubClient, unary, type RawPubSubClient } from './raw-pubsub-client';

/** Decodes a bitmap field as the Pub/Sub API documentation and Salesforce's Java/Python samples do. */
function bitmapNames(schema: AvroRecordSchema, bitmaps: string[]): string[] {
  const names: string[] = [];
  const positions = (hex: string) => {
    const bits = BigInt(hex);
    const out: number[] = [];
    for (let i = 0; bits >> BigInt(i) > 0n; i++) if ((bits >> BigInt(i)) & 1n) out.push(i);
    return out;
  };
  for (const entry of bitmaps) {
    if (entry.startsWith('0x')) {
      names.push(...positions(entry).map((p) => schema.fields[p]!.name));
      continue;
    }
    const [parent, hex] = entry.split('-') as [string, string];
    const field = schema.fields[Number(parent)]!;
    const nested = (field.type as unknown[]).find((t) => typeof t === 'object') as AvroRecordSchema;
    names.push(...positions(hex).map((p) => `${field.name}.${nested.fields[p]!.name}`));
  }
  return names;
}

describe('Salesforce emulator Pub/Sub API (gRPC)', () => {
  let sf: SalesforceEmulator;
  let client: RawPubSubClient;
  let metadata: grpc.Metadata;
  const streams: grpc.ClientDuplexStream<Record<string, unknown>, unknown>[] = [];

  const schemaOf = async (schemaId: string) => {
    const info = await unary(client.GetSchema, client, { schema_id: schemaId }, metadata);
    return { json: JSON.parse(info.schema_json) as AvroRecordSchema, type: avro.Type.forSchema(JSON.parse(info.schema_json) as avro.Schema) };
  };
  const subscribe = (first: Record<string, unknown>, md = metadata) => {
    const stream = client.Subscribe(md);
    streams.push(stream);
    const seen = collect(stream);
    stream.write(first);
    return { stream, ...seen };
  };

  beforeAll(async () => {
    sf = await startSalesforceEmulator({ pubSub: { keepaliveMs: 60_000 }, customFields: { Contact: [{ name: 'Title__c', type: 'string' }], Lead: [{ name: 'Title__c', type: 'string' }] } });
    client = rawPubSubClient(sf.pubSubEndpoint!, sf.pubSubCaPem);
    metadata = authMetadata(sf.issueToken(), sf.url, sf.orgId);
  });

  afterAll(async () => {
    for (const s of streams) s.cancel();
    client.close();
    await sf.close();
  });

  it('serves over TLS only: a client that does not trust the generated certificate cannot connect', async () => {
    const untrusting = rawPubSubClient(sf.pubSubEndpoint!, null);
    const error = await unary(untrusting.GetTopic, untrusting, { topic_name: '/data/OptOutSync__chn' }, metadata).catch((e: grpc.ServiceError) => e);
    untrusting.close();
    expect((error as grpc.ServiceError).code).toBe(grpc.status.UNAVAILABLE);
    expect(sf.pubSubEndpoint).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('refuses calls without a valid accesstoken / instanceurl / tenantid with UNAUTHENTICATED, the auth error code and an rpcId', async () => {
    for (const md of [authMetadata('not-a-token', sf.url, sf.orgId), authMetadata(sf.issueToken(), sf.url, '00D000000000000AAA')]) {
      const error = (await unary(client.GetTopic, client, { topic_name: '/data/OptOutSync__chn' }, md).catch((e: unknown) => e)) as grpc.ServiceError;
      expect(error.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(error.metadata.get('error-code')).toEqual([pubSubErrorCodes.authError]);
      expect(error.details).toMatch(/rpcId: [0-9a-f-]{36}$/);
    }
  });

  it('GetTopic and GetSchema describe the CDC channel and the relay event; the change event schema starts with ChangeEventHeader', async () => {
    const cdc = await unary(client.GetTopic, client, { topic_name: '/data/OptOutSync__chn' }, metadata);
    expect(cdc).toMatchObject({ topic_name: '/data/OptOutSync__chn', tenant_guid: sf.orgId, can_publish: false, can_subscribe: true });
    const cdcSchema = await schemaOf(cdc.schema_id);
    expect(cdcSchema.json.name).toBe('ContactChangeEvent');
    expect(cdcSchema.json.namespace).toBe('com.sforce.eventbus');
    expect(cdcSchema.json.fields[0]!.name).toBe('ChangeEventHeader');
    expect(cdcSchema.json.fields.find((f) => f.name === 'HasOptedOutOfEmail')).toMatchObject({ type: ['null', 'boolean'], default: null });

    const pe = await unary(client.GetTopic, client, { topic_name: '/event/OptOut_Change__e' }, metadata);
    expect(pe.can_publish).toBe(true);
    const peSchema = await schemaOf(pe.schema_id);
    expect(peSchema.json.fields.slice(0, 2)).toEqual([
      { name: 'CreatedDate', type: 'long', doc: 'CreatedDate:DateTime' },
      { name: 'CreatedById', type: 'string', doc: 'CreatedBy:EntityId' },
    ]);
    const missing = (await unary(client.GetTopic, client, { topic_name: '/event/Nope__e' }, metadata).catch((e: unknown) => e)) as grpc.ServiceError;
    expect(missing.code).toBe(grpc.status.NOT_FOUND);
  });

  it('encodes bitmaps as the documentation example: 0x650004E0 names fields 5, 6, 7, 10, 24, 26, 29 and 30', () => {
    const fields = Array.from({ length: 31 }, (_, i) => ({ name: `F${i}`, type: ['null', 'string'] }));
    const schema = { type: 'record', name: 'X', fields } as AvroRecordSchema;
    expect(encodeFieldBitmap(schema, ['F5', 'F6', 'F7', 'F10', 'F24', 'F26', 'F29', 'F30'])).toEqual(['0x650004E0']);
    expect(bitmapNames(schema, ['0x650004E0'])).toEqual(['F5', 'F6', 'F7', 'F10', 'F24', 'F26', 'F29', 'F30']);
  });

  it('delivers only what num_requested allows, then more after another FetchRequest; pending_num_requested counts down', async () => {
    const sub = subscribe({ topic_name: '/data/ContactChangeEvent', replay_preset: 'LATEST', num_requested: 2 });
    await waitFor(() => sf.pubSub.openStreams().some((s) => s.channel === '/data/ContactChangeEvent'), { what: 'subscription' });
    for (let i = 0; i < 3; i++) sf.insert('Contact', { LastName: `Flow${i}`, Email: `flow${i}@example.com` });
    await waitFor(() => sub.events().length === 2, { what: 'two events' });
    await new Promise((r) => setTimeout(r, 150));
    expect(sub.events()).toHaveLength(2);
    expect(sub.responses.at(-1)!.pending_num_requested).toBe(0);
    sub.stream.write({ num_requested: 5 });
    await waitFor(() => sub.events().length === 3, { what: 'third event' });
    expect(sub.responses.at(-1)!.pending_num_requested).toBe(4);
    sub.stream.cancel();
  });

  it('an UPDATE carries every field (unchanged ones null, Email enriched) and changed/nulled bitmaps, nested for Name', async () => {
    const contact = sf.insert('Contact', { FirstName: 'Ada', LastName: 'Bitmap', Email: 'bitmap@example.com', Title__c: 'Dr' });
    const sub = subscribe({ topic_name: '/data/OptOutSync__chn', replay_preset: 'LATEST', num_requested: 10 });
    await waitFor(() => sf.pubSub.openStreams().some((s) => s.channel === '/data/OptOutSync__chn'), { what: 'subscription' });
    sf.update('Contact', String(contact.Id), { HasOptedOutOfEmail: true, FirstName: 'Grace', Title__c: null });
    const [event] = await waitFor(() => (sub.events().length > 0 ? sub.events() : null), { what: 'update event' });
    const schema = await schemaOf(event!.event.schema_id);
    const record = schema.type.fromBuffer(event!.event.payload) as Record<string, unknown> & { ChangeEventHeader: Record<string, unknown> };
    const header = record.ChangeEventHeader;
    expect(header.changeType).toBe('UPDATE');
    expect(header.recordIds).toEqual([contact.Id]);
    const changed = header.changedFields as string[];
    expect(changed[0]).toMatch(/^0x[0-9A-F]+$/);
    expect(changed.some((c) => /^\d+-0x[0-9A-F]+$/.test(c))).toBe(true);
    expect(bitmapNames(schema.json, changed)).toEqual(expect.arrayContaining(['HasOptedOutOfEmail', 'Title__c', 'Name.FirstName']));
    expect(bitmapNames(schema.json, header.nulledFields as string[])).toEqual(['Title__c']);
    expect(header.diffFields).toEqual([]);
    expect(record.HasOptedOutOfEmail).toBe(true);
    expect(record.Email).toBe('bitmap@example.com');
    expect(record.Title__c).toBeNull();
    expect(record.AccountId).toBeNull();
    expect(record.Name).toMatchObject({ FirstName: 'Grace', LastName: null });
    expect(event!.replay_id.length).toBeGreaterThan(0);
    expect(event!.event.id).toMatch(/^[0-9a-f-]{36}$/);
    sub.stream.cancel();
  });

  it('replays: EARLIEST from the oldest retained, CUSTOM after the given id, an expired id fails with replayid.corrupted', async () => {
    const lead = sf.insert('Lead', { LastName: 'Replay', Company: 'Acme', Email: 'replay@example.com' });
    for (const title of ['a', 'b', 'c']) sf.update('Lead', String(lead.Id), { Title__c: title });
    const all = subscribe({ topic_name: '/data/LeadChangeEvent', replay_preset: 'EARLIEST', num_requested: 100 });
    await waitFor(() => all.events().length === 4, { what: 'all four retained events' });
    all.stream.cancel();
    const second = all.events()[1]!.replay_id;
    const after = subscribe({ topic_name: '/data/LeadChangeEvent', replay_preset: 'CUSTOM', replay_id: second, num_requested: 100 });
    await waitFor(() => after.events().length === 2, { what: 'events after the second' });
    expect(after.events().map((e) => e.replay_id)).toEqual(all.events().slice(2).map((e) => e.replay_id));
    after.stream.cancel();

    sf.setRetention(0);
    await new Promise((r) => setTimeout(r, 5));
    const expired = subscribe({ topic_name: '/data/LeadChangeEvent', replay_preset: 'CUSTOM', replay_id: second, num_requested: 10 });
    const error = await waitFor(() => expired.error(), { what: 'replay error' });
    sf.setRetention(72 * 3600 * 1000);
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error.metadata.get('error-code')).toEqual([pubSubErrorCodes.replayIdCorrupted]);
  });

  it('sends an empty FetchResponse with the latest replay id as keepalive when there is nothing to deliver', async () => {
    sf.pubSub.setKeepaliveMs(50);
    try {
      sf.insert('Contact', { LastName: 'Keepalive', Email: 'keepalive@example.com' });
      const sub = subscribe({ topic_name: '/data/ContactChangeEvent', replay_preset: 'LATEST', num_requested: 10 });
      const keepalive = await waitFor(() => sub.responses.find((r) => r.events.length === 0), { what: 'keepalive' });
      expect(keepalive.latest_replay_id.length).toBeGreaterThan(0);
      expect(keepalive.pending_num_requested).toBe(10);
      sub.stream.cancel();
    } finally {
      sf.pubSub.setKeepaliveMs(60_000);
    }
  });

  it('Publish accepts an Avro-encoded relay event, answers its replay id, and the event joins the bus CometD serves (date-times back to ISO text)', async () => {
    const topic = await unary(client.GetTopic, client, { topic_name: '/event/OptOut_Change__e' }, metadata);
    const { type } = await schemaOf(topic.schema_id);
    const changedAt = Date.parse('2026-12-01T10:00:00.000Z');
    const payload = type.toBuffer({
      CreatedDate: Date.now(),
      CreatedById: sf.users.integration.id,
      Record_Id__c: '003000000000001AAA',
      Object_Name__c: 'Contact',
      Email__c: 'published@example.com',
      Opted_Out__c: true,
      Changed_At__c: changedAt,
      Changed_By__c: null,
      Change_Origin__c: null,
      Source__c: 'FLOW',
    });
    const response = await unary(client.Publish, client, { topic_name: '/event/OptOut_Change__e', events: [{ id: 'k1', schema_id: topic.schema_id, payload }] }, metadata);
    expect(response.results[0]!.error).toBeNull();
    expect(response.results[0]!.correlation_key).toBe('k1');
    expect(response.results[0]!.replay_id.length).toBeGreaterThan(0);
    const retained = sf.retainedEvents('/event/OptOut_Change__e').at(-1)!;
    expect(retained.data.payload).toMatchObject({ Email__c: 'published@example.com', Opted_Out__c: true, Changed_At__c: '2026-12-01T10:00:00.000Z' });
  });

  it('ends open streams with UNAUTHENTICATED once their token is revoked', async () => {
    const token = sf.issueToken();
    const sub = subscribe({ topic_name: '/data/ContactChangeEvent', replay_preset: 'LATEST', num_requested: 1 }, authMetadata(token, sf.url, sf.orgId));
    await waitFor(() => sf.pubSub.openStreams().length > 0, { what: 'stream' });
    sf.revokeToken(token);
    const error = await waitFor(() => sub.error(), { what: 'stream end' });
    expect(error.code).toBe(grpc.status.UNAUTHENTICATED);
  });
});
