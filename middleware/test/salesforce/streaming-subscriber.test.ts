import { z } from 'zod';
import { StreamingSubscriber, type StreamingSubscriberOptions, type StreamMessage } from '../../src/salesforce/streaming-subscriber';
import { SalesforceRestClient } from '../../src/salesforce/salesforce-rest';
import { normaliseMessage } from '../../src/salesforce/change-normaliser';
import { cdcChannel, optOutEvent } from '../../src/salesforce/package-names';
import { waitFor } from '../support/wait-for';
import { apiVersion, jwtSession, productClientId, startHarness, type Harness } from './emulator-harness';

const channel = cdcChannel.channel;
let harness: Harness;

beforeAll(async () => {
  // Short CometD timeouts keep the suite fast; Salesforce uses 110 s (connect) and 40 s (client expiry).
  harness = await startHarness({ connectTimeoutMs: 400, clientExpiryMs: 3_000 });
});

afterAll(async () => {
  await harness.emulator.close();
});

const headerSchema = z.object({
  data: z.object({
    payload: z
      .object({ ChangeEventHeader: z.object({ recordIds: z.array(z.string()), changeOrigin: z.string() }) })
      .loose(),
  }),
});

/** What the caller does: store the replay id with the queued work; here an in-memory "table". */
function fakeConsumer(options: { failOnce?: (recordId: string) => boolean; onExpired?: () => void } = {}) {
  const stored = new Map<string, string>();
  const received: Array<{ channel: string; recordIds: string[]; replayId: string; raw: unknown }> = [];
  const expired: Array<{ channel: string; lost: string }> = [];
  /** live: whether the channel's subscription was confirmed when the gap was reported (see `probe`). */
  const gaps: Array<{ channel: string; since: Date; live: boolean }> = [];
  const probe: { live: () => boolean } = { live: () => false };
  let inFlight = 0;
  let maxInFlight = 0;
  let calls = 0;
  const failed = new Set<string>();
  return {
    stored,
    received,
    expired,
    gaps,
    probe,
    maxInFlight: () => maxInFlight,
    calls: () => calls,
    idsReceived: () => received.flatMap((r) => r.recordIds),
    loadReplayId: async (name: string) => stored.get(name) ?? null,
    // Stores a batch all or nothing, as the intake's transaction does.
    onMessages: async (name: string, messages: StreamMessage[]) => {
      calls += 1;
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        await new Promise((resolve) => setImmediate(resolve));
        const batch = messages.map(({ rawMessage, replayId }) => {
          const header = headerSchema.safeParse(rawMessage);
          return { channel: name, recordIds: header.success ? header.data.data.payload.ChangeEventHeader.recordIds : [], replayId, raw: rawMessage };
        });
        for (const message of batch) {
          const first = message.recordIds[0];
          if (first && options.failOnce?.(first) && !failed.has(first)) {
            failed.add(first);
            throw new Error('database unavailable');
          }
        }
        received.push(...batch);
        const last = batch[batch.length - 1];
        if (last !== undefined) stored.set(name, last.replayId);
      } finally {
        inFlight -= 1;
      }
    },
    onReplayExpired: async (name: string, lost: string) => {
      expired.push({ channel: name, lost });
      options.onExpired?.();
    },
    onUnreplayableGap: async (name: string, since: Date) => {
      gaps.push({ channel: name, since, live: probe.live() });
    },
  };
}

function subscriberFor(consumer: ReturnType<typeof fakeConsumer>, extra: Partial<StreamingSubscriberOptions> = {}) {
  const session = jwtSession(harness);
  const subscriber = new StreamingSubscriber({
    session,
    channels: [channel],
    loadReplayId: consumer.loadReplayId,
    onMessages: consumer.onMessages,
    onReplayExpired: consumer.onReplayExpired,
    onUnreplayableGap: consumer.onUnreplayableGap,
    fayeRetrySeconds: 0.2,
    baseBackoffMs: 50,
    ...extra,
  });
  return { session, subscriber };
}

function newContact(name: string): string {
  return String(harness.emulator.insert('Contact', { LastName: name, Email: `${name}@example.com` }).Id);
}

async function subscribed(subscriber: StreamingSubscriber): Promise<void> {
  await waitFor(() => subscriber.state().channels[channel]?.subscribed, { what: 'subscription', timeoutMs: 10_000 });
}

describe('StreamingSubscriber against the emulator', () => {
  test('when the product PATCHes a Contact, then the CDC event arrives with client=<id> in changeOrigin and normalises as an echo', async () => {
    const consumer = fakeConsumer();
    const { session, subscriber } = subscriberFor(consumer);
    await subscriber.start();
    try {
      await subscribed(subscriber);
      const id = newContact('patched');
      await new SalesforceRestClient(session).updateRecords('Contact', [{ Id: id, HasOptedOutOfEmail: true }]);
      const event = await waitFor(
        () =>
          consumer.received.find(
            (r) =>
              r.recordIds.includes(id) && headerSchema.parse(r.raw).data.payload.ChangeEventHeader.changeOrigin !== '',
          ),
        { what: 'CDC update event' },
      );
      const header = headerSchema.parse(event.raw).data.payload.ChangeEventHeader;
      expect(header.changeOrigin).toBe(`com/salesforce/api/rest/${apiVersion};client=${productClientId}`);
      const result = normaliseMessage(channel, event.raw, { productClientId, integrationUserId: null });
      expect(result.echoes).toBe(1);
      expect(subscriber.state()).toMatchObject({ connected: true, status: 'connected' });
      expect(consumer.stored.get(channel)).toBe(event.replayId);
    } finally {
      await subscriber.stop();
    }
  });

  test('when several events arrive quickly, then the handler sees them one at a time and in order', async () => {
    const consumer = fakeConsumer();
    const { subscriber } = subscriberFor(consumer);
    await subscriber.start();
    try {
      await subscribed(subscriber);
      const ids = Array.from({ length: 6 }, (_, i) => newContact(`ordered${i}`));
      for (const id of ids)
        harness.emulator.update(
          'Contact',
          id,
          { HasOptedOutOfEmail: true },
          { asUserId: harness.emulator.users.admin.id },
        );
      await waitFor(() => ids.every((id) => consumer.idsReceived().filter((r) => r === id).length >= 2), {
        what: 'all events',
      });
      expect(consumer.maxInFlight()).toBe(1);
      const replayIds = consumer.received.map((r) => Number(r.replayId));
      expect(replayIds).toEqual([...replayIds].sort((a, b) => a - b));
    } finally {
      await subscriber.stop();
    }
  });

  test('when a burst arrives while the handler is busy, then the waiting events reach it together, in order', async () => {
    const consumer = fakeConsumer();
    const { subscriber } = subscriberFor(consumer);
    await subscriber.start();
    try {
      await subscribed(subscriber);
      const ids = Array.from({ length: 40 }, (_, i) => newContact(`burst${i}`));
      // One Collections call of 40 records: the enriched channel delivers 40 single-record events at once.
      harness.emulator.updateMany(
        'Contact',
        ids.map((id) => ({ id, fields: { HasOptedOutOfEmail: true } })),
        { asUserId: harness.emulator.users.admin.id },
      );
      await waitFor(() => ids.every((id) => consumer.idsReceived().includes(id)), { what: 'all events' });
      const updates = consumer.received.filter((r) => r.recordIds.some((id) => ids.includes(id)));
      expect(updates.map((r) => Number(r.replayId))).toEqual(updates.map((r) => Number(r.replayId)).sort((a, b) => a - b));
      expect(consumer.calls()).toBeLessThan(consumer.received.length);
      expect(consumer.stored.get(channel)).toBe(consumer.received[consumer.received.length - 1]!.replayId);
    } finally {
      await subscriber.stop();
    }
  });

  test('when the subscriber restarts, then it resumes after the stored replay id and misses nothing', async () => {
    const consumer = fakeConsumer();
    const first = subscriberFor(consumer);
    await first.subscriber.start();
    await subscribed(first.subscriber);
    const before = newContact('beforeStop');
    await waitFor(() => consumer.idsReceived().includes(before), { what: 'first event' });
    await first.subscriber.stop();

    const whileDown = newContact('whileDown');
    const second = subscriberFor(consumer);
    await second.subscriber.start();
    try {
      await waitFor(() => consumer.idsReceived().includes(whileDown), { what: 'event published while stopped' });
      expect(second.subscriber.state().channels[channel]?.subscribedFrom).not.toBe('-1');
      expect(consumer.idsReceived().filter((id) => id === before)).toHaveLength(1);
    } finally {
      await second.subscriber.stop();
    }
  });

  test('when the handler fails, then the message is not checkpointed and comes again from the stored replay id', async () => {
    let failing = '';
    const consumer = fakeConsumer({ failOnce: (id) => id === failing });
    const { subscriber } = subscriberFor(consumer);
    await subscriber.start();
    try {
      await subscribed(subscriber);
      const earlier = newContact('checkpointed');
      await waitFor(() => consumer.idsReceived().includes(earlier), { what: 'first checkpoint' });
      failing = newContact('failsOnce');
      await waitFor(() => consumer.idsReceived().includes(failing), { what: 'redelivery after handler failure' });
      expect(subscriber.state().channels[channel]?.handlerFailures).toBe(1);
      expect(consumer.idsReceived().filter((id) => id === earlier)).toHaveLength(1);
    } finally {
      await subscriber.stop();
    }
  });

  test('when the handler fails before anything was ever stored, then the subscriber replays all retained events (-2)', async () => {
    let failing = '';
    const consumer = fakeConsumer({ failOnce: (id) => id === failing });
    const { subscriber } = subscriberFor(consumer);
    await subscriber.start();
    try {
      await subscribed(subscriber);
      failing = newContact('failsFirst');
      await waitFor(() => consumer.idsReceived().includes(failing), { what: 'redelivery through -2' });
      expect(subscriber.state().channels[channel]?.subscribedFrom).toBe('-2');
    } finally {
      await subscriber.stop();
    }
  });

  test('when the stored replay id has expired, then onReplayExpired is called and the subscriber resubscribes from the fallback', async () => {
    const consumer = fakeConsumer();
    consumer.stored.set(channel, '987654321');
    const { subscriber } = subscriberFor(consumer);
    await subscriber.start();
    try {
      await waitFor(() => consumer.expired.length > 0, { what: 'onReplayExpired' });
      expect(consumer.expired[0]).toEqual({ channel, lost: '987654321' });
      await subscribed(subscriber);
      expect(subscriber.state().channels[channel]).toMatchObject({ subscribedFrom: '-1', expiredReplays: 1 });
      const id = newContact('afterExpiry');
      await waitFor(() => consumer.idsReceived().includes(id), { what: 'event after fallback' });
    } finally {
      await subscriber.stop();
    }
  });

  // Regression, chaos seed 2074150949: an opt-out made while a -1 subscription (after an expired replay id) was
  // being renewed after a token revocation was never streamed nor reconciled.
  test('when a -1 subscription after an expired replay id is cut before its first event, then the window is reported as a gap before resubscribing at -1', async () => {
    const consumer = fakeConsumer();
    consumer.stored.set(channel, '987654321');
    const { subscriber } = subscriberFor(consumer);
    await subscriber.start();
    try {
      await waitFor(() => consumer.expired.length > 0, { what: 'onReplayExpired' });
      await subscribed(subscriber);
      await waitFor(() => consumer.gaps.length === 1, { what: 'the gap reported once the fallback subscription is live' });
      const subscribedAt = Date.now();
      const clientsBefore = subscriber.state().clientsCreated;
      harness.emulator.revokeAllTokens();
      newContact('duringFallbackCut');
      await waitFor(() => subscriber.state().clientsCreated > clientsBefore && subscriber.state().channels[channel]?.subscribed, {
        what: 'new client after 401',
      });
      expect(subscriber.state().channels[channel]?.subscribedFrom).toBe('-1');
      // Either the cut event was still delivered, or the window it fell in is handed over for reconciliation:
      // before the renewed subscribe and again once it is live.
      await waitFor(() => consumer.gaps.length === 3, { what: 'the cut window reported before and after the renewal' });
      expect(consumer.gaps.slice(1).every((g) => g.since.getTime() <= subscribedAt)).toBe(true);
      expect(consumer.expired).toHaveLength(1);

      const after = newContact('afterFallbackCut');
      await waitFor(() => consumer.idsReceived().includes(after), { what: 'event after the renewed -1 subscription' });
      // With an event stored, the next cut resumes from its replay id: no gap to report.
      harness.emulator.expireAllClients();
      const acrossRehandshake = newContact('acrossRehandshake');
      await waitFor(() => consumer.idsReceived().includes(acrossRehandshake), { what: 'event across the re-handshake' });
      expect(consumer.gaps).toHaveLength(3);
    } finally {
      await subscriber.stop();
    }
  });

  // Regression, chaos seed 1703484611: the expired replay id's reconcile ran as soon as the expiry was seen, before
  // the -1 subscription was live, and a Lead opt-out committed in between was neither replayed nor found.
  test('when an opt-out is committed after the replay id expired but before the -1 subscription is live, then a gap reported once it is live covers it', async () => {
    let madeAt = 0;
    let madeId = '';
    const consumer = fakeConsumer({
      onExpired: () => {
        madeId = newContact('beforeFallbackLive');
        madeAt = Date.now();
      },
    });
    consumer.stored.set(channel, '987654322');
    const { subscriber } = subscriberFor(consumer);
    consumer.probe.live = () => subscriber.state().channels[channel]?.subscribed === true;
    await subscriber.start();
    try {
      await subscribed(subscriber);
      await waitFor(() => consumer.gaps.some((g) => g.live), { what: 'a gap reported with the subscription live' });
      // Under load the -1 subscription can be cut and renewed as well, which reports a later window of its own.
      expect(consumer.gaps.filter((g) => g.live).some((g) => g.since.getTime() <= madeAt)).toBe(true);
      // -1 does not replay it: the reconcile of that gap is the only way it gets handled.
      const after = newContact('afterFallbackLive');
      await waitFor(() => consumer.idsReceived().includes(after), { what: 'a later event' });
      expect(consumer.idsReceived()).not.toContain(madeId);
    } finally {
      await subscriber.stop();
    }
  });

  test('when a first subscription (nothing ever stored) is cut by 403::Unknown client before its first event, then the window is reported as a gap', async () => {
    const consumer = fakeConsumer();
    const { subscriber } = subscriberFor(consumer);
    await subscriber.start();
    try {
      await subscribed(subscriber);
      harness.emulator.expireAllClients();
      await waitFor(() => consumer.gaps.length > 0, { what: 'gap reported on the renewed -1 subscribe' });
      await subscribed(subscriber);
      expect(subscriber.state().channels[channel]?.subscribedFrom).toBe('-1');
      expect(consumer.expired).toHaveLength(0);
    } finally {
      await subscriber.stop();
    }
  });

  test('when the session held from before is already dead at the handshake (401), then the subscriber re-authenticates and subscribes', async () => {
    const consumer = fakeConsumer();
    const { session, subscriber } = subscriberFor(consumer);
    // The token was taken before an outage during which the org's session timed out.
    await session.token();
    harness.emulator.revokeAllTokens();
    await subscriber.start();
    try {
      await subscribed(subscriber);
      expect(session.refreshes()).toBeGreaterThanOrEqual(2);
      const id = newContact('afterDeadHandshake');
      await waitFor(() => consumer.idsReceived().includes(id), { what: 'event after the re-authenticated handshake' });
    } finally {
      await subscriber.stop();
    }
  });

  test('when the token is revoked, then the subscriber re-authenticates, builds a new client and keeps receiving', async () => {
    const consumer = fakeConsumer();
    const { session, subscriber } = subscriberFor(consumer);
    await subscriber.start();
    try {
      await subscribed(subscriber);
      harness.emulator.revokeAllTokens();
      await waitFor(() => subscriber.state().clientsCreated >= 2 && subscriber.state().channels[channel]?.subscribed, {
        what: 'new client after 401',
      });
      expect(session.refreshes()).toBeGreaterThanOrEqual(2);
      const id = newContact('afterRevoke');
      await waitFor(() => consumer.idsReceived().includes(id), { what: 'event after re-authentication' });
    } finally {
      await subscriber.stop();
    }
  });

  test('when the server expires the CometD client, then faye re-handshakes and resubscribes from the stored replay id', async () => {
    const consumer = fakeConsumer();
    const { subscriber } = subscriberFor(consumer);
    await subscriber.start();
    try {
      await subscribed(subscriber);
      const first = newContact('beforeExpiry');
      await waitFor(() => consumer.idsReceived().includes(first), { what: 'first event' });
      const storedBefore = consumer.stored.get(channel);
      harness.emulator.expireAllClients();
      const during = newContact('duringExpiry');
      await waitFor(() => consumer.idsReceived().includes(during), { what: 'event across the re-handshake' });
      expect(subscriber.state().clientsCreated).toBe(1);
      expect(subscriber.state().channels[channel]?.subscribedFrom).toBe(storedBefore);
      expect(consumer.idsReceived().filter((id) => id === first)).toHaveLength(1);
    } finally {
      await subscriber.stop();
    }
  });

  test('when no /meta/connect succeeds for longer than the watchdog allows, then the client is rebuilt', async () => {
    harness.emulator.setCometdTimeouts({ connectTimeoutMs: 5_000 });
    const consumer = fakeConsumer();
    const { subscriber } = subscriberFor(consumer, { watchdogMs: 600 });
    await subscriber.start();
    try {
      await waitFor(() => subscriber.state().lastRestartReason?.includes('watchdog'), { what: 'watchdog restart' });
      await waitFor(() => subscriber.state().clientsCreated >= 2, { what: 'second client' });
    } finally {
      await subscriber.stop();
      harness.emulator.setCometdTimeouts({ connectTimeoutMs: 400 });
    }
  });

  test('when Salesforce answers 503 Server is too busy, then the subscriber backs off, says so, and resumes by replay id', async () => {
    const consumer = fakeConsumer();
    const { subscriber } = subscriberFor(consumer, { busyBackoffMs: 300 });
    await subscriber.start();
    try {
      await subscribed(subscriber);
      const before = newContact('beforeBusy');
      await waitFor(() => consumer.idsReceived().includes(before), { what: 'event before busy' });
      harness.emulator.injectBusy(1);
      await waitFor(() => subscriber.state().status === 'backing-off', { what: 'backing-off state' });
      expect(subscriber.state().lastRestartReason).toContain('503::Server is too busy');
      const during = newContact('duringBusy');
      await waitFor(() => consumer.idsReceived().includes(during), { what: 'event published during the back-off' });
      expect(subscriber.state().channels[channel]?.subscribedFrom).not.toBe('-1');
    } finally {
      await subscriber.stop();
    }
  });

  test('when both the CDC channel and the relay event are subscribed, then each keeps its own replay id', async () => {
    const consumer = fakeConsumer();
    const { subscriber } = subscriberFor(consumer, { channels: [channel, optOutEvent.channel] });
    await subscriber.start();
    try {
      await waitFor(
        () =>
          subscriber.state().channels[optOutEvent.channel]?.subscribed &&
          subscriber.state().channels[channel]?.subscribed,
        {
          what: 'both subscriptions',
        },
      );
      const id = newContact('bothChannels');
      harness.emulator.publishPlatformEvent(optOutEvent.apiName, {
        Record_Id__c: id,
        Object_Name__c: 'Contact',
        Email__c: 'bothChannels@example.com',
        Opted_Out__c: true,
        Changed_At__c: new Date().toISOString(),
        Source__c: 'FLOW',
      });
      await waitFor(() => consumer.stored.has(optOutEvent.channel) && consumer.idsReceived().includes(id), {
        what: 'both events',
      });
      const relay = consumer.received.find((r) => r.channel === optOutEvent.channel);
      expect(
        normaliseMessage(optOutEvent.channel, relay?.raw, { productClientId, integrationUserId: null }).changes[0],
      ).toMatchObject({
        recordId: id,
        source: 'FLOW',
      });
    } finally {
      await subscriber.stop();
    }
  });
});
