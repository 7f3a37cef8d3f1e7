// Pub/Sub API subscriber for the CDC custom channel and the relay Platform Event: one Subscribe stream per channel,
// feeding the same onMessages as the CometD subscriber with the same message shape (event-decoding.ts), so the
// intake, its transaction (work queued and replay id stored together, DESIGN §2), gap handling and reconcile are
// shared. What it owns (Pub/Sub API Developer Guide and research/salesforce-pubsub.md):
// - flow control: it asks for no more events than it can hold unstored (maxBuffered), so a 100,000-event burst
//   streams through in bounded memory; the server never has more than 100 outstanding per stream;
// - replay: CUSTOM after the stored replay id (opaque bytes, stored as tagged base64), EARLIEST for "-2", LATEST
//   for nothing stored; an invalid or expired id (error-code ...replayid.corrupted / validation.failed, or a
//   CometD id left by the other transport) is reported like the CometD path's and the stream falls back;
// - a keepalive watchdog (the server answers within 270 s when idle; a stream silent past keepaliveTimeoutMs is
//   re-created), reconnects with exponential back-off, a token refresh on UNAUTHENTICATED;
// - EventUuid: a redelivered event (same uuid) is dropped before the intake sees it.
import type * as grpc from '@grpc/grpc-js';
import type { StreamMessage, StreamingSession, SubscriberState, SubscriberStatus, ChannelState } from '../streaming-subscriber';
import type { SalesforceToken } from '../salesforce-auth';
import { type Clock, type Logger, type TimerHandle, silentLogger, systemClock } from '../logger-and-clock';
import { SchemaCache, replayIdFromText, replayIdToText, toCometdShape } from './event-decoding';
import {
  PubSubConnection,
  fetchResponseSchema,
  grpcStatusOf,
  pubSubErrorCode,
  type ConsumerEvent,
  type FetchRequest,
  type FetchResponse,
  type ReplayPreset,
} from './pubsub-grpc';

export type PubSubSubscriberOptions = {
  /** host:port, api.pubsub.salesforce.com:7443 in production. */
  endpoint: string;
  /** PEM of a CA to trust instead of the system's (a private endpoint, the local emulator). */
  rootCertificatePem?: string | null;
  session: StreamingSession;
  channels: string[];
  loadReplayId(channel: string): Promise<string | null>;
  /** As StreamingSubscriberOptions.onMessages: all stored or none (throws). */
  onMessages(channel: string, messages: StreamMessage[]): Promise<void>;
  onReplayExpired(channel: string, lostReplayId: string): Promise<void>;
  onUnreplayableGap(channel: string, since: Date): Promise<void>;
  /**
   * An event whose payload its own schema cannot decode: the change it carried is unknown, so it must be found by
   * reconcile. Awaited before the batch goes to onMessages (which quarantines the event and moves the checkpoint
   * past it), so the record of it is durable before the checkpoint advances; a throw fails the batch.
   */
  onUndecodable?(channel: string, event: UndecodableEvent): Promise<void>;
  /** Where to resume after an invalid replay id: -1 LATEST (default), -2 EARLIEST. */
  expiredReplayFallback?: -1 | -2;
  /**
   * Most events per onMessages call (default 500, as on CometD). A batch is what arrived while the previous one was
   * being stored, so a burst is stored in few large transactions (each costs the intake a transaction and its
   * Salesforce reads) while a trickle is stored event by event.
   */
  maxBatch?: number;
  /** Most events requested or received but not yet stored, per channel (default 1,000: a few megabytes). */
  maxBuffered?: number;
  /** A stream with no response for this long is re-created (default 300 s: the server's 270 s plus slack). */
  keepaliveTimeoutMs?: number;
  /** GetTopic and GetSchema fail after this long without an answer (default 30 s), and are retried like a stream. */
  unaryDeadlineMs?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** EventUuids remembered per channel to drop redeliveries (default 10,000). */
  rememberedEventIds?: number;
  logger?: Logger;
  clock?: Clock;
};

export type UndecodableEvent = { replayId: string; schemaId: string; eventUuid: string; reason: string };

/** Most events one Subscribe stream may have outstanding (Pub/Sub API allocations). */
const serverMaxOutstanding = 100;

type Buffered = { event: ConsumerEvent; generation: number };

type ChannelRuntime = ChannelState & {
  name: string;
  generation: number;
  call: grpc.ClientDuplexStream<FetchRequest, unknown> | null;
  token: SalesforceToken | null;
  preset: ReplayPreset | null;
  confirmed: boolean;
  outstanding: number;
  buffer: Buffered[];
  inFlight: number;
  queue: Promise<void>;
  drainScheduled: boolean;
  lastResponseAt: number;
  restartTimer: TimerHandle | null;
  restartPending: boolean;
  /** When the pending restart runs (status: "backing-off until"). */
  restartAt: number | null;
  /** Handler failures in a row (a new stream succeeds each time, so their back-off is counted here). */
  failuresInRow: number;
  /** Stream failures since the last confirmed stream. */
  connectFailures: number;
  failedWithoutCheckpoint: boolean;
  expiredReplayId: string | null;
  expiredAt: number | null;
  unreplayableSince: number | null;
  gapSinceOnConfirm: number | null;
  /** A resume point learnt from this process's own stream before anything was stored (keepalive latest id). */
  liveResume: Buffer | 'EARLIEST' | null;
  deliveredThisStream: number;
  recentIds: Set<string>;
  recentOrder: string[];
  redeliveriesDropped: number;
};

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = pubSubErrorCode(error);
    return `${error.name}: ${error.message}${code ? ` (${code})` : ''}`;
  }
  return String(error);
}

const statusUnauthenticated = 16;
const statusNotFound = 5;

export class PubSubSubscriber {
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly channels = new Map<string, ChannelRuntime>();
  private readonly maxBatch: number;
  private readonly maxBuffered: number;
  private readonly keepaliveTimeoutMs: number;
  private readonly baseBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly rememberedEventIds: number;
  private connection: PubSubConnection | null = null;
  private schemas: SchemaCache | null = null;
  private running = false;
  private watchdogTimer: TimerHandle | null = null;
  private restarts = 0;
  private lastRestartReason: string | null = null;
  private lastError: string | null = null;
  private lastConnectAt: number | null = null;
  private streamsOpened = 0;

  constructor(private readonly options: PubSubSubscriberOptions) {
    if (options.channels.length === 0) throw new Error('PubSubSubscriber needs at least one channel');
    this.logger = options.logger ?? silentLogger;
    this.clock = options.clock ?? systemClock;
    this.maxBatch = Math.max(1, options.maxBatch ?? 500);
    this.maxBuffered = Math.max(1, options.maxBuffered ?? 1_000);
    this.keepaliveTimeoutMs = options.keepaliveTimeoutMs ?? 300_000;
    this.baseBackoffMs = options.baseBackoffMs ?? 1_000;
    this.maxBackoffMs = options.maxBackoffMs ?? 5 * 60_000;
    this.rememberedEventIds = options.rememberedEventIds ?? 10_000;
    for (const name of new Set(options.channels)) {
      this.channels.set(name, {
        name,
        subscribed: false,
        subscribedFrom: null,
        lastReplayId: null,
        lastMessageAt: null,
        delivered: 0,
        expiredReplays: 0,
        handlerFailures: 0,
        lastError: null,
        generation: 0,
        call: null,
        token: null,
        preset: null,
        confirmed: false,
        outstanding: 0,
        buffer: [],
        inFlight: 0,
        queue: Promise.resolve(),
        drainScheduled: false,
        lastResponseAt: 0,
        restartTimer: null,
        restartPending: false,
        restartAt: null,
        failuresInRow: 0,
        connectFailures: 0,
        failedWithoutCheckpoint: false,
        expiredReplayId: null,
        expiredAt: null,
        unreplayableSince: null,
        gapSinceOnConfirm: null,
        liveResume: null,
        deliveredThisStream: 0,
        recentIds: new Set(),
        recentOrder: [],
        redeliveriesDropped: 0,
      });
    }
  }

  /** Starts one stream per channel. Never rejects: failures are retried with back-off and reported by state(). */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.connection = new PubSubConnection(this.options.endpoint, this.options.rootCertificatePem ?? null, this.options.unaryDeadlineMs ?? 30_000);
    const connection = this.connection;
    this.schemas = new SchemaCache(async (schemaId) => {
      const info = await connection.getSchema(schemaId, await this.options.session.token());
      return { schemaId: info.schema_id, schemaJson: info.schema_json };
    });
    this.armWatchdog();
    await Promise.all([...this.channels.values()].map((channel) => this.open(channel)));
  }

  /** Ends the streams and waits for the handler calls in flight to settle. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.watchdogTimer) this.clock.clearTimeout(this.watchdogTimer);
    this.watchdogTimer = null;
    for (const channel of this.channels.values()) {
      if (channel.restartTimer) this.clock.clearTimeout(channel.restartTimer);
      channel.restartTimer = null;
      channel.restartPending = false;
      channel.restartAt = null;
      this.closeStream(channel);
    }
    await Promise.all([...this.channels.values()].map((channel) => channel.queue));
    this.connection?.close();
    this.connection = null;
  }

  state(): SubscriberState {
    const channels: Record<string, ChannelState> = {};
    let allConfirmed = true;
    let anyBackingOff = false;
    let nextAttemptAt: number | null = null;
    for (const [name, c] of this.channels) {
      channels[name] = {
        subscribed: c.subscribed,
        subscribedFrom: c.subscribedFrom,
        lastReplayId: c.lastReplayId,
        lastMessageAt: c.lastMessageAt,
        delivered: c.delivered,
        expiredReplays: c.expiredReplays,
        handlerFailures: c.handlerFailures,
        lastError: c.lastError,
      };
      allConfirmed &&= c.confirmed;
      anyBackingOff ||= c.restartPending;
      if (c.restartPending && c.restartAt !== null) nextAttemptAt = Math.min(nextAttemptAt ?? c.restartAt, c.restartAt);
    }
    const status: SubscriberStatus = !this.running
      ? 'stopped'
      : allConfirmed
        ? 'connected'
        : anyBackingOff
          ? 'backing-off'
          : this.lastConnectAt === null
            ? 'connecting'
            : 'reconnecting';
    return {
      status,
      connected: status === 'connected',
      lastConnectAt: this.lastConnectAt,
      clientsCreated: this.streamsOpened,
      restarts: this.restarts,
      lastRestartReason: this.lastRestartReason,
      nextAttemptAt: this.running ? nextAttemptAt : null,
      lastError: this.lastError,
      channels,
    };
  }

  /** Redeliveries dropped by EventUuid, per channel (tests, status). */
  redeliveriesDropped(channel: string): number {
    return this.channels.get(channel)?.redeliveriesDropped ?? 0;
  }

  private armWatchdog(): void {
    const every = Math.max(10, Math.min(5_000, Math.floor(this.keepaliveTimeoutMs / 4)));
    this.watchdogTimer = this.clock.setTimeout(() => {
      this.watchdogTimer = null;
      if (!this.running) return;
      for (const channel of this.channels.values()) {
        if (channel.call === null || channel.restartPending) continue;
        const silentFor = this.clock.now() - channel.lastResponseAt;
        if (silentFor > this.keepaliveTimeoutMs) {
          this.logger.warn({ channel: channel.name, silentForMs: silentFor }, 'pubsub watchdog: no response or keepalive, re-creating the stream');
          this.restart(channel, `watchdog: no response for ${silentFor} ms`, { refreshToken: false });
        }
      }
      this.armWatchdog();
    }, every);
    this.watchdogTimer.unref?.();
  }

  private closeStream(channel: ChannelRuntime): void {
    channel.generation += 1;
    channel.subscribed = false;
    channel.confirmed = false;
    channel.outstanding = 0;
    const call = channel.call;
    channel.call = null;
    if (call) {
      call.removeAllListeners('data');
      call.on('error', () => undefined);
      call.cancel();
    }
  }

  private async open(channel: ChannelRuntime): Promise<void> {
    if (!this.running || !this.connection) return;
    this.closeStream(channel);
    const generation = channel.generation;
    let token: SalesforceToken;
    let resume: { preset: ReplayPreset; replayId: Buffer | null; text: string };
    try {
      token = await this.options.session.token();
      await this.connection.getTopic(channel.name, token);
      resume = await this.resumePoint(channel);
    } catch (error) {
      if (generation !== channel.generation) return;
      this.fail(channel, `subscribe ${channel.name}: ${describe(error)}`, { refreshToken: grpcStatusOf(error) === statusUnauthenticated });
      return;
    }
    if (!this.running || generation !== channel.generation || !this.connection) return;
    const call = this.connection.subscribe(token);
    channel.call = call;
    channel.token = token;
    channel.preset = resume.preset;
    channel.subscribedFrom = resume.text;
    channel.lastResponseAt = this.clock.now();
    channel.deliveredThisStream = 0;
    channel.buffer = [];
    this.streamsOpened += 1;
    call.on('data', (raw: unknown) => this.onResponse(channel, generation, raw));
    call.on('error', (error: unknown) => this.onStreamError(channel, generation, error));
    call.on('end', () => {
      if (generation === channel.generation) this.fail(channel, `stream for ${channel.name} ended by the server`, { refreshToken: false });
    });
    const first = Math.min(serverMaxOutstanding, this.maxBuffered);
    channel.outstanding = first;
    call.write({
      topic_name: channel.name,
      replay_preset: resume.preset,
      ...(resume.replayId ? { replay_id: resume.replayId } : {}),
      num_requested: first,
    });
    this.logger.info({ channel: channel.name, preset: resume.preset, replayId: resume.text, numRequested: first }, 'pubsub subscribing');
  }

  /** Waits for the handler in flight, then reads the stored replay id (the only trustworthy resume point). */
  private async resumePoint(channel: ChannelRuntime): Promise<{ preset: ReplayPreset; replayId: Buffer | null; text: string }> {
    await channel.queue;
    const stored = await this.options.loadReplayId(channel.name);
    const fallback = (): { preset: ReplayPreset; replayId: null; text: string } =>
      this.options.expiredReplayFallback === -2
        ? { preset: 'EARLIEST', replayId: null, text: '-2' }
        : { preset: 'LATEST', replayId: null, text: '-1' };
    channel.gapSinceOnConfirm = null;
    let chosen: { preset: ReplayPreset; replayId: Buffer | null; text: string };
    if (channel.expiredReplayId !== null && (stored === null || stored === channel.expiredReplayId)) {
      chosen = fallback();
    } else if (stored === null && channel.failedWithoutCheckpoint) {
      this.logger.warn({ channel: channel.name }, 'handler failed before any checkpoint: replaying all retained events (EARLIEST)');
      chosen = { preset: 'EARLIEST', replayId: null, text: '-2' };
    } else if (stored === null || stored === '-1') {
      const live = channel.liveResume;
      chosen =
        live === 'EARLIEST'
          ? { preset: 'EARLIEST', replayId: null, text: '-2' }
          : live
            ? { preset: 'CUSTOM', replayId: live, text: replayIdToText(live) }
            : { preset: 'LATEST', replayId: null, text: '-1' };
    } else if (stored === '-2') {
      chosen = { preset: 'EARLIEST', replayId: null, text: '-2' };
    } else {
      const bytes = replayIdFromText(stored);
      if (bytes) {
        chosen = { preset: 'CUSTOM', replayId: bytes, text: stored };
      } else {
        // A replay id this transport cannot use (the CometD path's, after switching transport): the events after
        // it cannot be replayed here, so it is handled as an expired one (gap recorded, reconcile, fallback).
        this.logger.warn({ channel: channel.name, stored }, 'stored replay id is not a Pub/Sub replay id: reconciling and falling back');
        await this.expire(channel, stored, this.clock.now());
        chosen = fallback();
      }
    }
    if (chosen.preset !== 'LATEST') {
      if (chosen.preset === 'CUSTOM') channel.unreplayableSince = null;
      return chosen;
    }
    // A LATEST subscription has no resume point until a keepalive or event gives one: renewing it at LATEST
    // would skip what was published while it was cut (the CometD path's -1 rule).
    if (channel.unreplayableSince !== null) {
      const since = new Date(channel.unreplayableSince);
      this.logger.warn({ channel: channel.name, since: since.toISOString() }, 'renewing a LATEST subscription that never gave a resume point: reconciling what was published meanwhile');
      await this.options.onUnreplayableGap(channel.name, since);
      channel.gapSinceOnConfirm = channel.unreplayableSince;
    } else if (channel.expiredReplayId !== null) {
      channel.gapSinceOnConfirm = channel.expiredAt ?? this.clock.now();
    }
    channel.unreplayableSince = this.clock.now();
    return chosen;
  }

  private async expire(channel: ChannelRuntime, lost: string, detectedAt: number): Promise<void> {
    channel.expiredReplays += 1;
    await this.options.onReplayExpired(channel.name, lost);
    channel.expiredReplayId = lost;
    channel.expiredAt ??= detectedAt;
  }

  private onResponse(channel: ChannelRuntime, generation: number, raw: unknown): void {
    if (generation !== channel.generation || !this.running) return;
    const parsed = fetchResponseSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      this.fail(channel, `FetchResponse: ${issue?.path.join('.') ?? ''} ${issue?.message ?? 'invalid'}`, { refreshToken: false });
      return;
    }
    const response: FetchResponse = parsed.data;
    channel.lastResponseAt = this.clock.now();
    if (!channel.confirmed) this.confirm(channel);
    // Counted here, not taken from pending_num_requested: a response written before the server read our latest
    // FetchRequest reports a count that is already stale, and trusting it would over-request.
    channel.outstanding = Math.max(0, channel.outstanding - response.events.length);
    if (response.events.length === 0) {
      // Keepalive: before anything was delivered on this stream, its latest replay id is a safe resume point.
      if (channel.deliveredThisStream === 0 && channel.preset === 'LATEST') {
        channel.liveResume = response.latest_replay_id.length > 0 ? response.latest_replay_id : 'EARLIEST';
        channel.unreplayableSince = null;
      }
    } else {
      channel.deliveredThisStream += response.events.length;
      for (const event of response.events) channel.buffer.push({ event, generation });
      this.scheduleDrain(channel);
    }
    this.topUp(channel);
  }

  private confirm(channel: ChannelRuntime): void {
    channel.confirmed = true;
    channel.subscribed = true;
    channel.connectFailures = 0;
    channel.lastError = null;
    this.lastConnectAt = this.clock.now();
    this.lastError = null;
    this.logger.info({ channel: channel.name, replayId: channel.subscribedFrom }, 'pubsub subscribed');
    if (channel.gapSinceOnConfirm !== null && channel.preset === 'LATEST') {
      const since = new Date(channel.gapSinceOnConfirm);
      channel.gapSinceOnConfirm = null;
      // The reconcile of an expired replay id must cover what was published until this stream went live.
      this.options.onUnreplayableGap(channel.name, since).catch((error: unknown) => {
        channel.lastError = `onUnreplayableGap: ${describe(error)}`;
        this.fail(channel, channel.lastError, { refreshToken: false });
      });
    }
  }

  /** Asks for as many events as fit in maxBuffered besides what is outstanding, buffered or being stored. */
  private topUp(channel: ChannelRuntime): void {
    if (!channel.call || channel.restartPending) return;
    const held = channel.buffer.length + channel.inFlight + channel.outstanding;
    const room = Math.min(this.maxBuffered - held, serverMaxOutstanding - channel.outstanding);
    // Small top-ups cost a message each: wait for a useful amount unless the server has nothing left to send. The
    // amount is bounded by the server's own limit, or a large maxBatch would never top up before the stream ran dry.
    if (room <= 0 || (room < Math.min(this.maxBatch, this.maxBuffered, serverMaxOutstanding) / 2 && channel.outstanding > 0)) return;
    channel.outstanding += room;
    channel.call.write({ num_requested: room });
  }

  private scheduleDrain(channel: ChannelRuntime): void {
    if (channel.drainScheduled) return;
    channel.drainScheduled = true;
    channel.queue = channel.queue.then(() => this.drain(channel));
  }

  private async drain(channel: ChannelRuntime): Promise<void> {
    const generation = channel.generation;
    const batch = channel.buffer.splice(0, this.maxBatch).filter((b) => b.generation === generation);
    if (channel.buffer.length > 0) channel.queue = channel.queue.then(() => this.drain(channel));
    else channel.drainScheduled = false;
    if (batch.length === 0 || !this.running) return;
    channel.inFlight = batch.length;
    const ids: string[] = [];
    try {
      const messages: StreamMessage[] = [];
      const undecodable: UndecodableEvent[] = [];
      for (const { event } of batch) {
        if (event.event.id && channel.recentIds.has(event.event.id)) {
          channel.redeliveriesDropped += 1;
          continue;
        }
        ids.push(event.event.id);
        const decoded = await this.decode(channel.name, event);
        messages.push(decoded.message);
        if (decoded.undecodable) undecodable.push(decoded.undecodable);
      }
      for (const bad of undecodable) {
        this.logger.error({ channel: channel.name, ...bad }, 'pubsub event undecodable with its schema: quarantined, its change left to reconcile');
        await this.options.onUndecodable?.(channel.name, bad);
      }
      if (messages.length > 0) await this.options.onMessages(channel.name, messages);
    } catch (error) {
      channel.inFlight = 0;
      channel.handlerFailures += 1;
      channel.failuresInRow += 1;
      if (channel.lastReplayId === null) channel.failedWithoutCheckpoint = true;
      channel.lastError = `onMessages: ${describe(error)}`;
      this.logger.error({ channel: channel.name, events: batch.length, error: describe(error) }, 'pubsub message handler failed');
      // Nothing of the batch is stored: drop what is buffered behind it and resume from the stored id.
      if (generation === channel.generation) {
        this.restart(channel, channel.lastError, {
          refreshToken: grpcStatusOf(error) === statusUnauthenticated,
          delayMs: this.backoffMs(channel.failuresInRow),
        });
      }
      return;
    }
    channel.inFlight = 0;
    for (const id of ids) this.remember(channel, id);
    const last = batch[batch.length - 1]!;
    channel.lastReplayId = replayIdToText(last.event.replay_id);
    channel.lastMessageAt = this.clock.now();
    channel.delivered += batch.length;
    channel.expiredReplayId = null;
    channel.expiredAt = null;
    channel.failuresInRow = 0;
    channel.failedWithoutCheckpoint = false;
    channel.unreplayableSince = null;
    channel.liveResume = null;
    if (generation === channel.generation) this.topUp(channel);
  }

  /**
   * The CometD-shaped message of one event. A payload that cannot be decoded with its own schema is handed on in a
   * shape the intake rejects, so it is quarantined with its reason and the stream goes on; a failure to fetch the
   * schema throws (the stream is re-created and the event comes again).
   */
  private async decode(channelName: string, consumer: ConsumerEvent): Promise<{ message: StreamMessage; undecodable?: UndecodableEvent }> {
    const replayId = replayIdToText(consumer.replay_id);
    let schema: Awaited<ReturnType<SchemaCache['get']>>;
    try {
      schema = await this.schemas!.get(consumer.event.schema_id);
    } catch (error) {
      // NOT_FOUND will not change on a retry: retrying would hold the stream on this event forever. Any other
      // failure (network, token, deadline) is transient and fails the batch, which comes again.
      if (grpcStatusOf(error) !== statusNotFound) throw error;
      const reason = `schema ${consumer.event.schema_id} not found (GetSchema): ${describe(error)}`;
      return {
        message: { rawMessage: { channel: channelName, undecodable: reason, replayId, schemaId: consumer.event.schema_id, eventUuid: consumer.event.id, payloadBase64: consumer.event.payload.toString('base64') }, replayId },
        undecodable: { replayId, schemaId: consumer.event.schema_id, eventUuid: consumer.event.id, reason },
      };
    }
    let record: Record<string, unknown>;
    try {
      record = schema.type.fromBuffer(consumer.event.payload) as Record<string, unknown>;
    } catch (error) {
      const reason = `Avro payload undecodable with schema ${consumer.event.schema_id}: ${describe(error)}`;
      return {
        message: {
          rawMessage: { channel: channelName, undecodable: reason, replayId, schemaId: consumer.event.schema_id, eventUuid: consumer.event.id, payloadBase64: consumer.event.payload.toString('base64') },
          replayId,
        },
        undecodable: { replayId, schemaId: consumer.event.schema_id, eventUuid: consumer.event.id, reason },
      };
    }
    // Decoded but not convertible (a bitmap naming a field the schema lacks): the intake quarantines the thrown
    // shape in the same way; it is not a schema-fetch failure, so it must not fail the batch either.
    try {
      return { message: { rawMessage: toCometdShape(channelName, schema, record, replayId, consumer.event.id), replayId } };
    } catch (error) {
      const reason = `event not convertible with schema ${consumer.event.schema_id}: ${describe(error)}`;
      return {
        message: { rawMessage: { channel: channelName, undecodable: reason, replayId, schemaId: consumer.event.schema_id, eventUuid: consumer.event.id }, replayId },
        undecodable: { replayId, schemaId: consumer.event.schema_id, eventUuid: consumer.event.id, reason },
      };
    }
  }

  private remember(channel: ChannelRuntime, id: string): void {
    if (!id || channel.recentIds.has(id)) return;
    channel.recentIds.add(id);
    channel.recentOrder.push(id);
    while (channel.recentOrder.length > this.rememberedEventIds) channel.recentIds.delete(channel.recentOrder.shift()!);
  }

  private onStreamError(channel: ChannelRuntime, generation: number, error: unknown): void {
    if (generation !== channel.generation || !this.running) return;
    const code = pubSubErrorCode(error) ?? '';
    channel.lastError = describe(error);
    this.logger.warn({ channel: channel.name, status: grpcStatusOf(error), errorCode: code, error: channel.lastError }, 'pubsub stream failed');
    if (/replayid\.(corrupted|validation\.failed)/.test(code) && channel.preset === 'CUSTOM') {
      const lost = channel.subscribedFrom;
      const detectedAt = this.clock.now();
      this.closeStream(channel);
      if (lost === null) return;
      this.logger.warn({ channel: channel.name, lostReplayId: lost, fallback: this.options.expiredReplayFallback ?? -1 }, 'pubsub replay id invalid or expired; events after it may be lost, resubscribing from the fallback');
      this.expire(channel, lost, detectedAt).then(
        () => this.restart(channel, `replay id invalid on ${channel.name}`, { refreshToken: false, delayMs: 0 }),
        (failure: unknown) => this.fail(channel, `onReplayExpired(${channel.name}): ${describe(failure)}`, { refreshToken: false }),
      );
      return;
    }
    this.fail(channel, `${channel.name}: ${channel.lastError}`, { refreshToken: grpcStatusOf(error) === statusUnauthenticated });
  }

  /** A failure that needs a new stream: the first retry is immediate, repeats back off exponentially. */
  private fail(channel: ChannelRuntime, reason: string, { refreshToken }: { refreshToken: boolean }): void {
    this.lastError = reason;
    channel.connectFailures += 1;
    this.restart(channel, reason, { refreshToken, delayMs: this.backoffMs(channel.connectFailures) });
  }

  private backoffMs(failuresInRow: number): number {
    if (failuresInRow <= 1) return 0;
    return Math.min(this.maxBackoffMs, this.baseBackoffMs * 2 ** (failuresInRow - 2));
  }

  private restart(channel: ChannelRuntime, reason: string, { refreshToken, delayMs = 0 }: { refreshToken: boolean; delayMs?: number }): void {
    if (!this.running || channel.restartPending) return;
    const stale = channel.token ?? undefined;
    channel.restartPending = true;
    channel.restartAt = this.clock.now() + delayMs;
    this.restarts += 1;
    this.lastRestartReason = reason;
    this.closeStream(channel);
    this.logger.warn({ channel: channel.name, reason, delayMs, refreshToken }, 'pubsub stream restart scheduled');
    channel.restartTimer = this.clock.setTimeout(() => {
      channel.restartTimer = null;
      channel.restartPending = false;
      channel.restartAt = null;
      if (!this.running) return;
      void (async () => {
        if (refreshToken) {
          try {
            await this.options.session.refresh(stale);
          } catch (error) {
            this.fail(channel, `re-authentication: ${describe(error)}`, { refreshToken: true });
            return;
          }
        }
        await this.open(channel);
      })();
    }, delayMs);
  }
}
