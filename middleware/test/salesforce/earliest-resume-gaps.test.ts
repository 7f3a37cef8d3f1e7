// A stored "-2" checkpoint (one distinct replay id seen so far) has no resume point: each (re)subscribe from it
// records a stream gap from the checkpoint's last write, durably before the subscribe. A flapping connection must not
// add a gap per reconnect while one for the same window is still open. The app's own wiring (createEventStream) with
// a real store, both transports, over loopback against the Salesforce emulator.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { z } from 'zod';
import { startHarness, jwtSession, type Harness } from './emulator-harness';
import { engines, openTestDatabase, type TestDatabase } from '../support/test-databases';
import { waitFor } from '../support/wait-for';
import { createStore, type Store } from '../../src/store';
import { createMetrics } from '../../src/observability/metrics';
import { SalesforceIntake } from '../../src/workers/salesforce-intake';
import { defaultSettings } from '../../src/sync/settings';
import { cdcChannel } from '../../src/salesforce/package-names';
import { systemClock } from '../../src/salesforce/logger-and-clock';
import { createEventStream, earliestResumeGapReason, type EventStream } from '../../src/app/event-stream';
import type { AppConfig } from '../../src/config/load-config';

const channel: string = cdcChannel.channel;
const gapRow = z.object({ channel: z.string(), reason: z.string(), since: z.coerce.date().nullable() });
const suites = engines.flatMap((engine) => (['cometd', 'pubsub'] as const).map((transport) => [engine, transport] as const));

describe.each(suites)('resuming from a stored -2 checkpoint (%s, %s)', (engine, transport) => {
  let harness: Harness;
  let database: TestDatabase;
  let store: Store;
  let stream: EventStream | null = null;
  let caDir: string;
  const logLines: string[] = [];

  beforeAll(async () => {
    harness = await startHarness({ connectTimeoutMs: 400, clientExpiryMs: 3_000, pubSub: { keepaliveMs: 200 } });
    database = await openTestDatabase(engine);
    store = await createStore(database.db, () => new Date(), 'earliest-resume-test');
    caDir = fs.mkdtempSync(path.join(os.tmpdir(), 'optout-earliest-ca-'));
  });
  afterAll(async () => {
    await stream?.stop();
    await database?.drop();
    await harness?.emulator.close();
    fs.rmSync(caDir, { recursive: true, force: true });
  });

  const gaps = async () => (await store.db.query(`SELECT channel, reason, since FROM stream_gaps ORDER BY id`)).rows.map((r) => gapRow.parse(r));
  /** The subscribes that went out so far (each one read the resume point first), as both subscribers log them. */
  const subscribes = () => logLines.filter((line) => /"msg":"(cometd|pubsub) subscribing"/.test(line)).length;
  const checkpointAt = async () => (await store.replay.lastGoodAt(channel))!;
  const detectedAt = async (index: number) => z.object({ detected_at: z.coerce.date() }).parse((await store.db.query(`SELECT detected_at FROM stream_gaps ORDER BY id`)).rows[index]).detected_at;

  function startStream(pokes: { n: number }): Promise<void> {
    const caFile = path.join(caDir, 'ca.pem');
    fs.writeFileSync(caFile, harness.emulator.pubSubCaPem ?? '');
    const config: AppConfig['salesforce'] = {
      loginUrl: harness.emulator.url,
      apiVersion: '62.0',
      auth: { flow: 'client_credentials', clientId: harness.emulator.clientId, clientSecret: harness.emulator.clientSecret },
      clientTag: 'OptOutSync',
      expiredReplayFallback: -1,
      settingsRefreshCron: '0 * * * *',
      eventTransport: transport,
      pubSubEndpoint: harness.emulator.pubSubEndpoint!,
      pubSubCaFile: caFile,
    };
    const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });
    const metrics = createMetrics();
    const intake = new SalesforceIntake({ store, settings: () => defaultSettings, identity: () => ({ productClientId: 'OptOutSync', integrationUserId: null }), readRecords: async () => [], requestReconcile: () => undefined, logger, metrics });
    stream = createEventStream({
      config,
      session: jwtSession(harness),
      channels: [channel],
      store,
      intake,
      metrics,
      logger,
      clock: systemClock,
      onGapRecorded: () => void (pokes.n += 1),
      timing: { streamServerTimeoutMs: 2_000, fayeRetrySeconds: 0.2, busyBackoffMs: 500 },
    });
    return stream.start();
  }

  /** Cuts the connection (revoked session) and waits until the subscriber has subscribed again. */
  async function flap(): Promise<void> {
    const before = subscribes();
    harness.emulator.revokeAllTokens();
    await waitFor(() => subscribes() > before && stream!.state().channels[channel]?.subscribed === true, { what: 'subscribed again after the cut', timeoutMs: 10_000 });
  }

  test('when the connection flaps, then one gap covers the window until it is reconciled; a closed gap or a moved checkpoint makes a new one', async () => {
    // The first event of the channel was stored: the row exists, its resume point is "everything retained".
    await store.db.transaction((tx) => store.replay.save(tx, channel, '101'));
    expect(await store.replay.load(channel)).toBe('-2');
    const firstSince = await checkpointAt();
    const pokes = { n: 0 };
    await startStream(pokes);
    await waitFor(() => stream!.state().channels[channel]?.subscribed === true, { what: 'subscribed', timeoutMs: 10_000 });
    expect(stream!.state().channels[channel]?.subscribedFrom).toBe('-2');
    expect(await gaps()).toEqual([{ channel, reason: earliestResumeGapReason, since: firstSince }]);
    expect(pokes.n).toBe(1);

    for (let i = 0; i < 3; i += 1) await flap();
    expect(subscribes()).toBeGreaterThanOrEqual(4);
    expect(await gaps()).toHaveLength(1);
    expect(pokes.n).toBe(1);

    // Reconciled: that query covered the window only up to its own time, so the next -2 resume needs one again,
    // from where the closed one's reconcile had looked (its detection), not from the checkpoint all over again.
    await store.replay.closeGaps((await store.replay.openGaps()).map((g) => g.id));
    const firstDetected = await detectedAt(0);
    expect(firstDetected.getTime()).toBeGreaterThan(firstSince.getTime());
    await flap();
    await flap();
    expect(await gaps()).toEqual([expect.objectContaining({ since: firstSince }), expect.objectContaining({ since: firstDetected })]);

    // Another message of the same first group was stored: still -2, but the last good moment moved.
    await store.db.transaction((tx) => store.replay.save(tx, channel, '101'));
    expect(await store.replay.load(channel)).toBe('-2');
    const laterSince = await checkpointAt();
    expect(laterSince.getTime()).toBeGreaterThan(firstSince.getTime());
    await flap();
    await flap();
    expect((await gaps()).map((g) => g.since)).toEqual([firstSince, firstDetected, laterSince]);
    expect(pokes.n).toBe(3);
  }, 60_000);
});
