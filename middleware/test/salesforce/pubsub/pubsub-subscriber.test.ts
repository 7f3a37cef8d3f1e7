import * as grpc from '@grpc/grpc-js';
import { PubSubSubscriber, type PubSubSubscriberOptions, decodeFieldBitmap } from '../../../src/salesforce/pubsub';
import type { StreamMessage } from '../../../src/salesforce/streaming-subscriber';
import { normaliseMessage } from '../../../src/salesforce/change-normaliser';
import { cdcChannel, optOutEvent } from '../../../src/salesforce/package-names';
import { waitFor } from '../../support/wait-for';
import { jwtSession, productClientId, startHarness, type Harness } from '../emulator-harness';

const channel: string = cdcChannel.channel;
let harness: Harness;

beforeAll(async () => {
  harness = await startHarness({ pubSub: { keepaliveMs: 200 } });
});

afterAll(async () => {
  await harness.emulator.close();
});

const normalise = (name: string, raw: unknown) =>
  normaliseMessage(name, raw, { productClientId, integrationUserId: null });

/** The caller's side: stores a batch and its last replay id together, as the intake's transaction does. */
function fakeConsumer(options: { delayMs?: number; resumeBeforeLast?: boolean } = {}) {
  const stored = new Map<string, string>();
  const previous = new Map<string, string>();
  const received: StreamMessage[] = [];
  const batches: number[] = [];
  const expired: { channel: string; lost: string }[] = [];
  const gaps: { channel: string; since: Date }[] = [];
  return {
    stored,
    received,
    batches,
    expired,
    gaps,
    // resumeBeforeLast: as the replay checkpoint store does, resume from the id before the last one handled.
    loadReplayId: async (name: string) => (options.resumeBeforeLast ? previous.get(name) : stored.get(name)) ?? null,
    onMessages: async (name: string, messages: StreamMessage[]) => {
      if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
      batches.push(messages.length);
      received.push(...messages);
      const before = stored.get(name);
      if (before !== undefined) previous.set(name, before);
      stored.set(name, messages[messages.length - 1]!.replayId);
    },
    onReplayExpired: async (name: string, lost: string) => void expired.push({ channel: name, lost }),
    onUnreplayableGap: async (name: string, since: Date) => void gaps.push({ channel: name, since }),
  };
}

const subscribers: PubSubSubscriber[] = [];
afterEach(async () => {
  await Promise.all(subscribers.splice(0).map((s) => s.stop()));
});

function subscriberFor(consumer: ReturnType<typeof fakeConsumer>, extra: Partial<PubSubSubscriberOptions> = {}) {
  const session = jwtSession(harness);
  const subscriber = new PubSubSubscriber({
    endpoint: harness.emulator.pubSubEndpoint!,
    rootCertificatePem: harness.emulator.pubSubCaPem,
    session,
    channels: [channel],
    loadReplayId: consumer.loadReplayId,
    onMessages: consumer.onMessages,
    onReplayExpired: consumer.onReplayExpired,
    onUnreplayableGap: consumer.onUnreplayableGap,
    baseBackoffMs: 20,
    ...extra,
  });
  subscribers.push(subscriber);
  return { session, subscriber };
}

const subscribed = (subscriber: PubSubSubscriber, name = channel) =>
  waitFor(() => subscriber.state().channels[name]?.subscribed, { what: `subscription to ${name}`, timeoutMs: 10_000 });

const newContact = (name: string): string =>
  String(harness.emulator.insert('Contact', { LastName: name, Email: `${name}@example.com` }).Id);

const recordIdsOf = (messages: StreamMessage[]) =>
  messages.flatMap((m) => {
    // An undecodable event arrives without data (its shape is for the quarantine).
    const payload = (m.rawMessage as { data?: { payload: { ChangeEventHeader?: { recordIds: string[] } } } }).data?.payload;
    return payload?.ChangeEventHeader?.recordIds ?? [];
  });

describe('bitmap decoding', () => {
  const schema = {
    type: 'record' as const,
    name: 'X',
    fields: [
      { name: 'ChangeEventHeader', type: 'string' },
      { name: 'Email', type: ['null', 'string'] },
      { name: 'Name', type: ['null', { type: 'record', name: 'PersonName', fields: [{ name: 'FirstName', type: ['null', 'string'] }, { name: 'LastName', type: ['null', 'string'] }] }] },
      ...Array.from({ length: 28 }, (_, i) => ({ name: `F${i + 3}`, type: ['null', 'string'] })),
    ],
  };
  test('decodes the documentation example and the nested compound-field form', () => {
    // '0x650004E0': bits 5, 6, 7, 10, 24, 26, 29, 30 (Event Deserialization Considerations).
    expect(decodeFieldBitmap(schema, ['0x650004E0'])).toEqual(['F5', 'F6', 'F7', 'F10', 'F24', 'F26', 'F29', 'F30']);
    expect(decodeFieldBitmap(schema, ['0x02', '2-0x01'])).toEqual(['Email', 'Name.FirstName']);
    // Every component of the compound named: the compound itself (as Salesforce's samples read it).
    expect(decodeFieldBitmap(schema, ['0x00', '2-0x03'])).toEqual(['Name']);
  });
  test('rejects a bitmap that names a field the schema does not have, saying which', () => {
    expect(() => decodeFieldBitmap(schema, ['0x0100000000'], 'changedFields')).toThrow(/changedFields: bit 32 is past/);
    expect(() => decodeFieldBitmap(schema, ['1-0x01'], 'nulledFields')).toThrow(/nulledFields: field 1 is not a compound field/);
  });
});

describe('PubSubSubscriber over gRPC against the emulator', () => {
  test('a CDC opt-out arrives in the CometD shape and normalises to the same change as the CometD message of the same event', async () => {
    const consumer = fakeConsumer();
    const { subscriber } = subscriberFor(consumer);
    await subscriber.start();
    await subscribed(subscriber);
    const id = newContact('same-shape');
    harness.emulator.update('Contact', id, { HasOptedOutOfEmail: true });
    await waitFor(() => recordIdsOf(consumer.received).filter((r) => r === id).length === 2, { what: 'create and update' });
    const update = consumer.received[consumer.received.length - 1]!;
    expect(update.replayId).toMatch(/^pubsub:[A-Za-z0-9+/]+=*$/);
    const viaPubSub = normalise(channel, update.rawMessage);
    const cometd = harness.emulator.retainedEvents(channel).at(-1)!;
    const viaCometd = normalise(channel, cometd);
    expect(viaPubSub.changes).toHaveLength(1);
    expect(viaPubSub.changes[0]).toMatchObject({ recordId: id, email: 'same-shape@example.com', optedOut: true, source: 'CDC' });
    const strip = (r: typeof viaPubSub) => ({ ...r, changes: r.changes.map(({ replayId: _r, ...c }) => c) });
    expect(strip(viaPubSub)).toEqual(strip(viaCometd));
    const header = (update.rawMessage as { data: { payload: { ChangeEventHeader: Record<string, unknown> } } }).data.payload.ChangeEventHeader;
    expect(header.changedFields).toEqual(expect.arrayContaining(['HasOptedOutOfEmail']));
  });

  test('both channels: the relay Platform Event arrives on its own stream with its date-time as ISO text', async () => {
    const consumer = fakeConsumer();
    const { subscriber } = subscriberFor(consumer, { channels: [channel, optOutEvent.channel] });
    await subscriber.start();
    await subscribed(subscriber, optOutEvent.channel);
    await subscribed(subscriber, channel);
    const id = newContact('relay');
    harness.emulator.publishPlatformEvent(optOutEvent.apiName, {
      Record_Id__c: id,
      Object_Name__c: 'Contact',
      Email__c: 'relay@example.com',
      Opted_Out__c: true,
      Changed_At__c: '2026-12-01T09:30:00.000Z',
      Source__c: 'FLOW',
    });
    const relayed = await waitFor(() => consumer.received.find((m) => (m.rawMessage as { channel: string }).channel === optOutEvent.channel), { what: 'relay event' });
    const change = normalise(optOutEvent.channel, relayed.rawMessage).changes[0]!;
    expect(change).toMatchObject({ recordId: id, optedOut: true, source: 'FLOW', email: 'relay@example.com' });
    expect(change.changedAt.toISOString()).toBe('2026-12-01T09:30:00.000Z');
    await waitFor(() => recordIdsOf(consumer.received).includes(id), { what: 'the CDC create on the other stream' });
  });

  test('flow control: a burst of 600 changes streams through with at most maxBuffered events requested but not stored', async () => {
    const consumer = fakeConsumer({ delayMs: 5 });
    let worstUnstored = 0;
    const { subscriber } = subscriberFor(consumer, {
      maxBatch: 50,
      maxBuffered: 120,
      onMessages: async (name, messages) => {
        const stream = harness.emulator.pubSub.openStreams().findLast((s) => s.channel === channel);
        if (stream) worstUnstored = Math.max(worstUnstored, stream.delivered + stream.credit - consumer.received.length);
        await consumer.onMessages(name, messages);
      },
    });
    await subscriber.start();
    await subscribed(subscriber);
    const ids = harness.emulator.seed({ Contact: Array.from({ length: 600 }, (_, i) => ({ LastName: `Burst${i}`, Email: `burst${i}@example.com` })) }).Contact!;
    await waitFor(() => consumer.received.length >= 600, { what: '600 events', timeoutMs: 30_000 });
    expect(recordIdsOf(consumer.received)).toEqual(ids);
    expect(Math.max(...consumer.batches)).toBeLessThanOrEqual(50);
    expect(worstUnstored).toBeLessThanOrEqual(120);
  });

  test('batching: with the defaults, a burst stored by a slow consumer is handed over in batches of what arrived meanwhile (more than one request\'s 100), within maxBuffered', async () => {
    // 100 ms a batch: what the intake's transaction and its Salesforce read of the batch's emails cost.
    const consumer = fakeConsumer({ delayMs: 100 });
    let worstUnstored = 0;
    const { subscriber } = subscriberFor(consumer, {
      onMessages: async (name, messages) => {
        const stream = harness.emulator.pubSub.openStreams().findLast((s) => s.channel === channel);
        if (stream) worstUnstored = Math.max(worstUnstored, stream.delivered + stream.credit - consumer.received.length);
        await consumer.onMessages(name, messages);
      },
    });
    await subscriber.start();
    await subscribed(subscriber);
    consumer.batches.length = 0;
    const ids = harness.emulator.seed({ Contact: Array.from({ length: 1500 }, (_, i) => ({ LastName: `Mass${i}`, Email: `mass${i}@example.com` })) }).Contact!;
    await waitFor(() => recordIdsOf(consumer.received).length >= 1500, { what: '1,500 events', timeoutMs: 30_000 });
    expect(recordIdsOf(consumer.received)).toEqual(ids);
    expect(Math.max(...consumer.batches)).toBeGreaterThan(100);
    expect(Math.max(...consumer.batches)).toBeLessThanOrEqual(500);
    expect(consumer.batches.length).toBeLessThan(15);
    expect(worstUnstored).toBeLessThanOrEqual(1000);
  });

  test('a burst published to a caught-up stream is delivered in order without the server re-reading the retained log per event (it held the emulator for tens of seconds on a 10,000-record update)', async () => {
    const consumer = fakeConsumer();
    const { subscriber } = subscriberFor(consumer);
    await subscriber.start();
    await subscribed(subscriber);
    // The bus behind the server: counted, not replaced. Every event retained so far (earlier tests) makes a re-read
    // cost more; a publish to a stream that had everything before it needs none.
    const bus = (harness.emulator.pubSub as unknown as { options: { bus: { retained(channel: string): unknown[] } } }).options.bus;
    const retained = jest.spyOn(bus, 'retained');
    let ids: string[];
    try {
      ids = harness.emulator.seed({ Contact: Array.from({ length: 300 }, (_, i) => ({ LastName: `Live${i}`, Email: `live${i}@example.com` })) }).Contact!;
      expect(retained.mock.calls.filter(([name]) => name === channel).length).toBe(0);
    } finally {
      retained.mockRestore();
    }
    await waitFor(() => recordIdsOf(consumer.received).length >= 300, { what: '300 events', timeoutMs: 30_000 });
    expect(recordIdsOf(consumer.received)).toEqual(ids);
    expect(new Set(consumer.received.map((m) => m.replayId)).size).toBe(300);
  });

  test('schema cache: one GetSchema per schema id; a field added to the object brings a new schema id, fetched once and decoded', async () => {
    const consumer = fakeConsumer();
    const { subscriber } = subscriberFor(consumer);
    await subscriber.start();
    await subscribed(subscriber);
    const requests = harness.emulator.pubSub.schemaRequests;
    const before = new Map(requests);
    for (let i = 0; i < 5; i++) newContact(`schema${i}`);
    await waitFor(() => consumer.received.length >= 5, { what: 'five events' });
    const schemaId = (consumer.received[0]!.rawMessage as { data: { schema: string } }).data.schema;
    expect((requests.get(schemaId) ?? 0) - (before.get(schemaId) ?? 0)).toBe(1);
    harness.emulator.addCustomField('Contact', { name: 'Loyalty_Tier__c', type: 'string' });
    const id = String(harness.emulator.insert('Contact', { LastName: 'tier', Email: 'tier@example.com', Loyalty_Tier__c: 'Gold' }).Id);
    const created = await waitFor(() => consumer.received.find((m) => recordIdsOf([m]).includes(id)), { what: 'event with the new field' });
    const data = (created.rawMessage as { data: { schema: string; payload: Record<string, unknown> } }).data;
    expect(data.schema).not.toBe(schemaId);
    expect(data.payload.Loyalty_Tier__c).toBe('Gold');
    expect(requests.get(data.schema)).toBe(1);
  });

  test('an undecodable event is reported through onUndecodable before its batch is stored; until that succeeds nothing of the batch is stored, then the rest of the batch is delivered', async () => {
    const consumer = fakeConsumer();
    const reported: { replayId: string; reason: string }[] = [];
    let refuse = 1;
    const { subscriber } = subscriberFor(consumer, {
      onUndecodable: async (_name, event) => {
        if (refuse-- > 0) throw new Error('database unreachable');
        reported.push(event);
      },
    });
    await subscriber.start();
    await subscribed(subscriber);
    const damaged = newContact('damaged-payload');
    harness.emulator.pubSub.corruptPayloads((message) => {
      const header = message.data.payload.ChangeEventHeader as { recordIds?: unknown; changeType?: unknown } | undefined;
      return header?.changeType === 'UPDATE' && Array.isArray(header.recordIds) && header.recordIds.includes(damaged);
    });
    await waitFor(() => recordIdsOf(consumer.received).includes(damaged), { what: 'the create event' });
    const storedBefore = consumer.stored.get(channel);
    harness.emulator.update('Contact', damaged, { HasOptedOutOfEmail: true });
    const later = newContact('after-damaged');
    await waitFor(() => recordIdsOf(consumer.received).includes(later), { what: 'the event after the damaged one', timeoutMs: 10_000 });
    // The first report failed: the batch was not handed on, and the stream came back for it.
    expect(subscriber.state().channels[channel]!.handlerFailures).toBe(1);
    expect(reported).toHaveLength(1);
    expect(reported[0]!.reason).toMatch(/^Avro payload undecodable with schema \S+: Error: truncated buffer$/);
    const quarantinable = consumer.received.filter((m) => (m.rawMessage as { undecodable?: unknown }).undecodable !== undefined);
    expect(quarantinable.map((m) => m.replayId)).toEqual([reported[0]!.replayId]);
    expect(consumer.stored.get(channel)).not.toBe(storedBefore);
    expect(() => normalise(channel, quarantinable[0]!.rawMessage)).toThrow();
  });

  test.each([
    ['naming a schema GetSchema does not know', 'unknown-schema', /^schema unknownSchemaId0000000 not found \(GetSchema\)/],
    ['with a changedFields bitmap naming no field of its schema', 'bad-bitmap', /^event not convertible with schema \S+: Error: ChangeEventHeader.changedFields: bit \d+ is past/],
  ] as const)('an event %s is reported as undecodable and the stream goes on, instead of failing its batch on every retry', async (_what, how, reason) => {
    const consumer = fakeConsumer();
    const reported: { reason: string }[] = [];
    const { subscriber } = subscriberFor(consumer, { onUndecodable: async (_name, event) => void reported.push(event) });
    await subscriber.start();
    await subscribed(subscriber);
    const orphan = newContact(`damaged-${how}`);
    harness.emulator.pubSub.corruptPayloads((message) => {
      const header = message.data.payload.ChangeEventHeader as { recordIds?: unknown; changeType?: unknown } | undefined;
      return header?.changeType === 'UPDATE' && Array.isArray(header.recordIds) && header.recordIds.includes(orphan);
    }, how);
    await waitFor(() => recordIdsOf(consumer.received).includes(orphan), { what: 'the create event' });
    harness.emulator.update('Contact', orphan, { HasOptedOutOfEmail: true });
    const later = newContact('after-unknown-schema');
    await waitFor(() => recordIdsOf(consumer.received).includes(later), { what: 'the event after the orphan', timeoutMs: 10_000 });
    expect(reported).toEqual([expect.objectContaining({ reason: expect.stringMatching(reason) })]);
    expect(subscriber.state().channels[channel]!.handlerFailures).toBe(0);
  });

  test('restart resumes after the stored replay id (CUSTOM): what changed while stopped arrives, nothing before it', async () => {
    const consumer = fakeConsumer();
    const first = subscriberFor(consumer).subscriber;
    await first.start();
    await subscribed(first);
    const before = newContact('before-stop');
    await waitFor(() => recordIdsOf(consumer.received).includes(before), { what: 'first event' });
    await first.stop();
    const during = newContact('while-stopped');
    consumer.received.length = 0;
    const second = subscriberFor(consumer).subscriber;
    await second.start();
    await waitFor(() => recordIdsOf(consumer.received).includes(during), { what: 'replayed event' });
    expect(recordIdsOf(consumer.received)).not.toContain(before);
    expect(second.state().channels[channel]!.subscribedFrom).toMatch(/^pubsub:/);
  });

  test('an expired replay id is reported, the stream falls back to LATEST and the unreplayable window is reported once live', async () => {
    const consumer = fakeConsumer();
    const first = subscriberFor(consumer).subscriber;
    await first.start();
    await subscribed(first);
    newContact('soon-expired');
    await waitFor(() => consumer.stored.get(channel), { what: 'a stored replay id' });
    await first.stop();
    const lost = consumer.stored.get(channel)!;
    // Past the retention window: the stored id names an event the bus no longer has.
    harness.emulator.purgeEvents();
    const second = subscriberFor(consumer).subscriber;
    await second.start();
    await waitFor(() => consumer.gaps.length > 0, { what: 'gap reported after the fallback went live' });
    expect(consumer.expired).toEqual([{ channel, lost }]);
    expect(second.state().channels[channel]!.subscribedFrom).toBe('-1');
    const after = newContact('after-fallback');
    await waitFor(() => recordIdsOf(consumer.received).includes(after), { what: 'event after the fallback' });
  });

  test('a CometD replay id left by the other transport is handled as an expired one', async () => {
    const consumer = fakeConsumer();
    consumer.stored.set(channel, '1234');
    const { subscriber } = subscriberFor(consumer);
    await subscriber.start();
    await subscribed(subscriber);
    expect(consumer.expired).toEqual([{ channel, lost: '1234' }]);
    await waitFor(() => consumer.gaps.length > 0, { what: 'gap reported' });
  });

  test('UNAUTHENTICATED on the first Subscribe (a session that died before the start) refreshes the session and subscribes', async () => {
    const consumer = fakeConsumer();
    const { subscriber, session } = subscriberFor(consumer);
    const dead = (await session.token()).accessToken;
    harness.emulator.revokeAllTokens();
    await subscriber.start();
    await subscribed(subscriber);
    expect((await session.token()).accessToken).not.toBe(dead);
    const id = newContact('after-dead-start');
    await waitFor(() => recordIdsOf(consumer.received).includes(id), { what: 'event after the first re-authentication' });
  });

  test('an outage (UNAVAILABLE on every Subscribe) is retried with back-off, and the state says so: backing-off, when the next attempt is, the last error', async () => {
    const consumer = fakeConsumer();
    const { subscriber } = subscriberFor(consumer, { baseBackoffMs: 400 });
    harness.emulator.pubSub.failNextSubscribes(3, grpc.status.UNAVAILABLE, 'sfdc.platform.eventbus.grpc.service.unavailable', 'The service is unavailable');
    await subscriber.start();
    const backingOff = await waitFor(() => {
      const state = subscriber.state();
      return state.status === 'backing-off' && state.nextAttemptAt !== null && state;
    }, { what: 'backing off' });
    expect(backingOff.connected).toBe(false);
    expect(backingOff.nextAttemptAt).toBeGreaterThan(Date.now());
    expect(backingOff.lastError).toMatch(/service is unavailable|UNAVAILABLE/i);
    await subscribed(subscriber);
    expect(subscriber.state()).toMatchObject({ status: 'connected', nextAttemptAt: null, lastError: null });
  });

  test('a GetTopic that is never answered times out and is retried with back-off, instead of holding the stream forever', async () => {
    const consumer = fakeConsumer();
    const { subscriber } = subscriberFor(consumer, { unaryDeadlineMs: 300, baseBackoffMs: 100, maxBackoffMs: 200 });
    harness.emulator.pubSub.setUnaryStalled(true);
    try {
      await subscriber.start();
      await waitFor(() => /DEADLINE_EXCEEDED|Deadline exceeded/i.test(subscriber.state().lastError ?? ''), { what: 'the unanswered GetTopic given up' });
      expect(subscriber.state().connected).toBe(false);
    } finally {
      harness.emulator.pubSub.setUnaryStalled(false);
    }
    await subscribed(subscriber);
    const id = newContact('after-hung-service');
    await waitFor(() => recordIdsOf(consumer.received).includes(id), { what: 'event after the service answered again' });
  });

  test('UNAUTHENTICATED (revoked token) refreshes the session and resubscribes from the stored id', async () => {
    const consumer = fakeConsumer();
    const { subscriber, session } = subscriberFor(consumer);
    await subscriber.start();
    await subscribed(subscriber);
    const tokenBefore = (await session.token()).accessToken;
    harness.emulator.revokeAllTokens();
    const id = newContact('after-revoke');
    await waitFor(() => recordIdsOf(consumer.received).includes(id), { what: 'event after re-authentication' });
    expect((await session.token()).accessToken).not.toBe(tokenBefore);
    expect(subscriber.state().lastRestartReason).toMatch(/UNAUTHENTICATED|Authentication failed/);
  });

  test('the keepalive watchdog re-creates a stream that went silent, and EventUuid drops the redelivered events', async () => {
    const consumer = fakeConsumer({ resumeBeforeLast: true });
    const { subscriber } = subscriberFor(consumer, { keepaliveTimeoutMs: 600 });
    await subscriber.start();
    await subscribed(subscriber);
    newContact('redelivered-a');
    const b = newContact('redelivered-b');
    await waitFor(() => recordIdsOf(consumer.received).includes(b), { what: 'two events' });
    await waitFor(() => consumer.stored.get(channel) === consumer.received.at(-1)!.replayId && consumer.received.length >= 2, { what: 'stored' });
    harness.emulator.pubSub.setStalled(true);
    await waitFor(() => /watchdog/.test(subscriber.state().lastRestartReason ?? ''), { what: 'watchdog restart', timeoutMs: 10_000 });
    harness.emulator.pubSub.setStalled(false);
    const c = newContact('after-stall');
    await waitFor(() => recordIdsOf(consumer.received).includes(c), { what: 'event after the stall' });
    // Resumed from the id before the last one: the last event came again and was dropped by its EventUuid.
    expect(subscriber.redeliveriesDropped(channel)).toBeGreaterThan(0);
    expect(recordIdsOf(consumer.received).filter((r) => r === b)).toHaveLength(1);
  });
});
