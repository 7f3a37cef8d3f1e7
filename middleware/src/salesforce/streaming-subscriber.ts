// CometD subscriber for the CDC custom channel and the relay Platform Event. It owns what jsforce's streaming
// extensions get wrong (research/salesforce-streaming.md §0.3-0.4, §6.1): one replay id per channel (jsforce's
// Replay handles one channel per client, #1700/#1573), expired replay ids (jsforce stays silent, #1709), and
// `advice.reconnect: none` (faye goes silent forever, §1.6). Resume points are the caller's STORED replay ids:
// a message counts as consumed only after onMessages resolved, which is when the caller has queued its work and
// stored its replay id in one transaction (DESIGN §2).
import type { SalesforceToken } from './salesforce-auth';
import { classifyBayeuxFailure, type BayeuxFailure } from './bayeux-failures';
import { createFayeClient, shutdownFayeClient, type BayeuxMessage, type FayeClient } from './faye-client';
import { type Clock, type Logger, type TimerHandle, silentLogger, systemClock } from './logger-and-clock';

/** What the subscriber needs from SalesforceSession. */
export interface StreamingSession {
  readonly apiVersion: string;
  token(): Promise<SalesforceToken>;
  refresh(stale?: SalesforceToken): Promise<SalesforceToken>;
  current(): SalesforceToken | null;
}

export type StreamingSubscriberOptions = {
  /** `${instanceUrl}/cometd/${apiVersion}` by default (Streaming API "Clients and Cookies"). */
  cometdUrl?: (instanceUrl: string, apiVersion: string) => string;
  session: StreamingSession;
  channels: string[];
  loadReplayId(channel: string): Promise<string | null>;
  /**
   * Consumes messages in delivery order. Messages that arrive while the previous call is still storing its own
   * are handed over together (at most maxBatch), so a burst costs one transaction per batch instead of one per
   * message; the call must store them all or none (it throws), since the checkpoint moves to the last one.
   */
  onMessages(channel: string, messages: StreamMessage[]): Promise<void>;
  /** Most messages per onMessages call (default 500). */
  maxBatch?: number;
  onReplayExpired(channel: string, lostReplayId: string): Promise<void>;
  /**
   * Events published from `since` until a -1 subscription went live can never be replayed: the caller records a
   * gap to reconcile from `since`. Called (1) once a -1 subscription after an expired replay id is confirmed, since
   * the expiry was detected: a reconcile started at the expiry may have queried before the subscription was live;
   * (2) before and again after a -1 subscription that ended without delivering an event is renewed at -1, since
   * the earlier -1 subscribe went out. Rejecting rebuilds the client, which asks again.
   */
  onUnreplayableGap(channel: string, since: Date): Promise<void>;
  /** Where to resume after an expired replay id: -1 new events only (default), -2 everything retained. */
  expiredReplayFallback?: -1 | -2;
  logger?: Logger;
  clock?: Clock;
  /** The server's /meta/connect timeout (Salesforce: 110 s); the watchdog fires after twice that without a connect. */
  serverTimeoutMs?: number;
  /** Overrides 2 x serverTimeoutMs. */
  watchdogMs?: number;
  /** Wait after `503::Server is too busy` or a connection-limit denial ("try again after a few minutes"). */
  busyBackoffMs?: number;
  /** Wait after `403::Organization total events daily limit exceeded` (the allocation is a rolling 24 h). */
  dailyLimitBackoffMs?: number;
  /** First wait after repeated or unexpected failures; doubles up to maxBackoffMs. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** faye's handshake retry interval in seconds (its default is 5). */
  fayeRetrySeconds?: number;
};

export type StreamMessage = { rawMessage: unknown; replayId: string };

export type SubscriberStatus = 'stopped' | 'connecting' | 'connected' | 'reconnecting' | 'backing-off';

export type ChannelState = {
  subscribed: boolean;
  /** The replay id the last subscribe asked for ('-1', '-2' or a stored id). */
  subscribedFrom: string | null;
  /** The replay id of the last message onMessages accepted. */
  lastReplayId: string | null;
  lastMessageAt: number | null;
  delivered: number;
  expiredReplays: number;
  handlerFailures: number;
  lastError: string | null;
};

export type SubscriberState = {
  status: SubscriberStatus;
  connected: boolean;
  lastConnectAt: number | null;
  clientsCreated: number;
  restarts: number;
  lastRestartReason: string | null;
  nextAttemptAt: number | null;
  lastError: string | null;
  channels: Record<string, ChannelState>;
};

type ChannelRuntime = ChannelState & {
  /** Serialises onMessages per channel: Salesforce delivers in order and the checkpoints must follow that order. */
  queue: Promise<void>;
  /** Delivered, not yet handed to onMessages; taken by the next link of `queue`. */
  pending: Array<StreamMessage & { epoch: number; context: ClientContext }>;
  /** A link of `queue` that will take `pending` is already scheduled. */
  drainScheduled: boolean;
  /** Bumped on every (re)subscribe: messages queued under an older epoch are dropped, the replay resends them. */
  epoch: number;
  /** Set after onReplayExpired resolved: resubscribe with the fallback until a newer id is consumed. */
  expiredReplayId: string | null;
  /** Handler failures in a row: a reconnect succeeds each time, so the back-off has to be counted here. */
  failuresInRow: number;
  /**
   * A handler failed before anything was ever stored for this channel: resuming at -1 would skip the failed
   * message, and replay ids must not be computed, so the next subscribe asks for everything retained (-2).
   */
  failedWithoutCheckpoint: boolean;
  /**
   * When the first -1 subscribe of this channel went out, until an event is stored: a -1 subscription has no
   * resume point, so renewing it at -1 would silently skip what was published while it was cut.
   */
  unreplayableSince: number | null;
  /** When the replay id was found expired (the start of the window a confirmed fallback subscription closes). */
  expiredAt: number | null;
  /** Set when a -1 subscribe goes out that closes an unreplayable window: reported once the server confirms it. */
  gapSinceOnConfirm: number | null;
};

type ClientContext = { client: FayeClient; generation: number; disposed: boolean; token: SalesforceToken };

const replayNumberPattern = /^-?\d+$/;

/** Replay ids are opaque strings here; Salesforce expects the JSON number it sent when it is one. */
function replayValue(replayId: string): string | number {
  if (replayNumberPattern.test(replayId)) {
    const numeric = Number(replayId);
    if (Number.isSafeInteger(numeric)) return numeric;
  }
  return replayId;
}

function replayIdOf(data: unknown): string | null {
  if (typeof data !== 'object' || data === null) return null;
  const event = (data as { event?: unknown }).event;
  if (typeof event !== 'object' || event === null) return null;
  const replayId = (event as { replayId?: unknown }).replayId;
  if (typeof replayId === 'number' || (typeof replayId === 'string' && replayId.length > 0)) return String(replayId);
  return null;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

export class StreamingSubscriber {
  private readonly options: Required<
    Omit<StreamingSubscriberOptions, 'watchdogMs' | 'logger' | 'clock' | 'cometdUrl'>
  > & { watchdogMs: number | undefined };
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly cometdUrl: (instanceUrl: string, apiVersion: string) => string;
  private readonly channels = new Map<string, ChannelRuntime>();

  private running = false;
  private status: SubscriberStatus = 'stopped';
  private context: ClientContext | null = null;
  private generation = 0;
  private clientsCreated = 0;
  private restarts = 0;
  private lastRestartReason: string | null = null;
  private lastError: string | null = null;
  private lastConnectAt: number | null = null;
  /** When the current client was created: the watchdog's reference until its first successful connect. */
  private clientStartedAt = 0;
  private advisedTimeoutMs: number | null = null;
  private consecutiveFailures = 0;
  private restartTimer: TimerHandle | null = null;
  private restartPending: { reason: string; refreshToken: boolean } | null = null;
  private nextAttemptAt: number | null = null;
  private watchdogTimer: TimerHandle | null = null;

  constructor(options: StreamingSubscriberOptions) {
    if (options.channels.length === 0) throw new Error('StreamingSubscriber needs at least one channel');
    this.logger = options.logger ?? silentLogger;
    this.clock = options.clock ?? systemClock;
    this.cometdUrl = options.cometdUrl ?? ((instanceUrl, apiVersion) => `${instanceUrl}/cometd/${apiVersion}`);
    this.options = {
      session: options.session,
      channels: [...new Set(options.channels)],
      loadReplayId: options.loadReplayId,
      onMessages: options.onMessages,
      maxBatch: options.maxBatch ?? 500,
      onReplayExpired: options.onReplayExpired,
      onUnreplayableGap: options.onUnreplayableGap,
      expiredReplayFallback: options.expiredReplayFallback ?? -1,
      serverTimeoutMs: options.serverTimeoutMs ?? 110_000,
      watchdogMs: options.watchdogMs,
      busyBackoffMs: options.busyBackoffMs ?? 120_000,
      dailyLimitBackoffMs: options.dailyLimitBackoffMs ?? 15 * 60_000,
      baseBackoffMs: options.baseBackoffMs ?? 1_000,
      maxBackoffMs: options.maxBackoffMs ?? 5 * 60_000,
      fayeRetrySeconds: options.fayeRetrySeconds ?? 5,
    };
    for (const channel of this.options.channels) {
      this.channels.set(channel, {
        subscribed: false,
        subscribedFrom: null,
        lastReplayId: null,
        lastMessageAt: null,
        delivered: 0,
        expiredReplays: 0,
        handlerFailures: 0,
        lastError: null,
        queue: Promise.resolve(),
        pending: [],
        drainScheduled: false,
        epoch: 0,
        expiredReplayId: null,
        failuresInRow: 0,
        failedWithoutCheckpoint: false,
        unreplayableSince: null,
        expiredAt: null,
        gapSinceOnConfirm: null,
      });
    }
  }

  /** Starts streaming. Never rejects: failures are retried with back-off and reported by state(). */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.setStatus('connecting', 'start');
    this.armWatchdog();
    await this.buildClient();
  }

  /** Stops streaming and waits for the handler calls in flight to settle. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.restartTimer) this.clock.clearTimeout(this.restartTimer);
    if (this.watchdogTimer) this.clock.clearTimeout(this.watchdogTimer);
    this.restartTimer = null;
    this.watchdogTimer = null;
    this.restartPending = null;
    this.nextAttemptAt = null;
    this.disposeClient();
    this.setStatus('stopped', 'stop');
    await Promise.all([...this.channels.values()].map((channel) => channel.queue));
  }

  state(): SubscriberState {
    const channels: Record<string, ChannelState> = {};
    for (const [name, runtime] of this.channels) {
      const {
        queue: _queue,
        pending: _pending,
        drainScheduled: _drainScheduled,
        epoch: _epoch,
        expiredReplayId: _expired,
        failuresInRow: _failures,
        failedWithoutCheckpoint: _unsafe,
        unreplayableSince: _unreplayable,
        expiredAt: _expiredAt,
        gapSinceOnConfirm: _gapSince,
        ...visible
      } = runtime;
      channels[name] = { ...visible };
    }
    return {
      status: this.status,
      connected: this.status === 'connected',
      lastConnectAt: this.lastConnectAt,
      clientsCreated: this.clientsCreated,
      restarts: this.restarts,
      lastRestartReason: this.lastRestartReason,
      nextAttemptAt: this.nextAttemptAt,
      lastError: this.lastError,
      channels,
    };
  }

  private watchdogLimitMs(): number {
    return this.options.watchdogMs ?? 2 * (this.advisedTimeoutMs ?? this.options.serverTimeoutMs);
  }

  private armWatchdog(): void {
    const limit = this.watchdogLimitMs();
    const checkEvery = Math.max(10, Math.min(5_000, Math.floor(limit / 4)));
    this.watchdogTimer = this.clock.setTimeout(() => {
      this.watchdogTimer = null;
      if (!this.running) return;
      const inBackoff = this.status === 'backing-off' || this.restartPending !== null;
      const since = Math.max(this.lastConnectAt ?? 0, this.clientStartedAt);
      if (!inBackoff && this.context && this.clock.now() - since > this.watchdogLimitMs()) {
        this.logger.warn(
          { silentForMs: this.clock.now() - since },
          'cometd watchdog: no successful /meta/connect, restarting client',
        );
        this.fail('watchdog: no successful /meta/connect', { refreshToken: false });
      }
      this.armWatchdog();
    }, checkEvery);
    this.watchdogTimer.unref?.();
  }

  private setStatus(status: SubscriberStatus, why: string): void {
    if (this.status !== status)
      this.logger.info({ from: this.status, to: status, why }, 'cometd subscriber state change');
    this.status = status;
  }

  private async buildClient(): Promise<void> {
    if (!this.running) return;
    const generation = ++this.generation;
    let token: SalesforceToken;
    try {
      token = await this.options.session.token();
    } catch (error) {
      this.fail(`token: ${describe(error)}`, { refreshToken: true });
      return;
    }
    if (!this.running || generation !== this.generation) return;
    const url = this.cometdUrl(token.instanceUrl, this.options.session.apiVersion);
    const client = createFayeClient(url, { retrySeconds: this.options.fayeRetrySeconds });
    // Salesforce supports long polling only (Error Codes: "Invalid connection type").
    client.disable('websocket');
    client.setHeader('Authorization', `OAuth ${token.accessToken}`);
    const context: ClientContext = { client, generation, disposed: false, token };
    client.addExtension({
      outgoing: (message, callback) => this.outgoing(context, message, callback),
      incoming: (message, callback) => this.incoming(context, message, callback),
    });
    this.context = context;
    this.clientsCreated += 1;
    this.clientStartedAt = this.clock.now();
    this.logger.info({ url, channels: this.options.channels, generation }, 'cometd client created');
    for (const channel of this.options.channels) {
      // The subscribe request itself carries the stored replay id (outgoing extension); faye repeats it on every
      // re-handshake, so `403::Unknown client` recovery resumes from the stored ids as well.
      client.subscribe(channel, (data) => this.enqueue(context, channel, data));
    }
  }

  private disposeClient(): void {
    const context = this.context;
    this.context = null;
    if (!context) return;
    for (const channel of this.channels.values()) {
      channel.subscribed = false;
      channel.epoch += 1;
    }
    shutdownFayeClient(context.client);
    // After disconnect, everything else the old client tries to send or receive is dropped by the extensions.
    context.disposed = true;
  }

  private outgoing(
    context: ClientContext,
    message: BayeuxMessage,
    callback: (message: BayeuxMessage | null) => void,
  ): void {
    if (context.disposed) {
      callback(message.channel === '/meta/disconnect' ? message : null);
      return;
    }
    // Keep the header on the newest token the session holds (REST calls may have refreshed it meanwhile).
    const token = this.options.session.current() ?? context.token;
    context.client.setHeader('Authorization', `OAuth ${token.accessToken}`);
    if (message.channel !== '/meta/subscribe' || typeof message.subscription !== 'string') {
      callback(message);
      return;
    }
    const channelName = message.subscription;
    const channel = this.channels.get(channelName);
    if (!channel) {
      callback(message);
      return;
    }
    void this.resumePoint(channelName, channel).then(
      (replayId) => {
        if (context.disposed) return callback(null);
        channel.subscribedFrom = replayId;
        message.ext = { ...(message.ext ?? {}), replay: { [channelName]: replayValue(replayId) } };
        this.logger.info({ channel: channelName, replayId }, 'cometd subscribing');
        callback(message);
      },
      (error: unknown) => {
        callback(null);
        channel.lastError = `loadReplayId: ${describe(error)}`;
        this.fail(channel.lastError, { refreshToken: false });
      },
    );
  }

  /** Waits for the handler in flight, then reads the stored replay id (the only trustworthy resume point). */
  private async resumePoint(channelName: string, channel: ChannelRuntime): Promise<string> {
    // A new subscription replays everything after the stored id: messages still queued from the previous one
    // would arrive twice, so drop them, but let the call in flight finish and store its id first.
    channel.epoch += 1;
    await channel.queue;
    const stored = await this.options.loadReplayId(channelName);
    let replayId: string;
    if (channel.expiredReplayId !== null && (stored === null || stored === channel.expiredReplayId)) {
      replayId = String(this.options.expiredReplayFallback);
    } else if (stored === null && channel.failedWithoutCheckpoint) {
      this.logger.warn(
        { channel: channelName },
        'handler failed before any checkpoint: replaying all retained events (-2)',
      );
      replayId = '-2';
    } else {
      replayId = stored ?? '-1';
    }
    channel.gapSinceOnConfirm = null;
    if (replayId !== '-1') {
      if (replayId !== '-2') channel.unreplayableSince = null;
      return replayId;
    }
    // Found by the chaos run: a -1 subscription cut by a revoked token or `403::Unknown client` before its first
    // event, then renewed at -1, skipped an opt-out made in between. Reported now (durable before the subscribe)
    // and again once the renewed subscription is live (what was published until then is covered too).
    if (channel.unreplayableSince !== null) {
      const since = new Date(channel.unreplayableSince);
      this.logger.warn(
        { channel: channelName, since: since.toISOString() },
        'renewing a -1 subscription that never delivered an event: reconciling what was published meanwhile',
      );
      await this.options.onUnreplayableGap(channelName, since);
      channel.gapSinceOnConfirm = channel.unreplayableSince;
    } else if (channel.expiredReplayId !== null) {
      channel.gapSinceOnConfirm = channel.expiredAt ?? this.clock.now();
    }
    channel.unreplayableSince = this.clock.now();
    return replayId;
  }

  private incoming(
    context: ClientContext,
    message: BayeuxMessage,
    callback: (message: BayeuxMessage | null) => void,
  ): void {
    if (context.disposed) {
      callback(null);
      return;
    }
    switch (message.channel) {
      case '/meta/handshake':
        if (message.successful) {
          for (const channel of this.channels.values()) channel.subscribed = false;
          this.logger.info({ generation: context.generation }, 'cometd handshake succeeded');
        } else {
          this.onFailure(context, message);
        }
        break;
      case '/meta/connect':
        if (message.successful) {
          this.lastConnectAt = this.clock.now();
          if (typeof message.advice?.timeout === 'number' && message.advice.timeout > 0) {
            this.advisedTimeoutMs = message.advice.timeout;
          }
          this.consecutiveFailures = 0;
          this.lastError = null;
          this.setStatus('connected', 'connect succeeded');
        } else {
          this.onFailure(context, message);
        }
        break;
      case '/meta/subscribe':
        this.onSubscribeReply(context, message);
        break;
      default:
        break;
    }
    callback(message);
  }

  private onSubscribeReply(context: ClientContext, message: BayeuxMessage): void {
    const names = ([] as string[]).concat(message.subscription ?? []);
    for (const name of names) {
      const channel = this.channels.get(name);
      if (!channel) continue;
      if (message.successful) {
        channel.subscribed = true;
        channel.lastError = null;
        this.logger.info({ channel: name, replayId: channel.subscribedFrom }, 'cometd subscribed');
        if (channel.gapSinceOnConfirm !== null && channel.subscribedFrom === '-1') {
          const since = new Date(channel.gapSinceOnConfirm);
          channel.gapSinceOnConfirm = null;
          // Found by the chaos run (seed 1703484611): the reconcile of an expired replay id ran as soon as the
          // expiry was seen, before the -1 subscription was live; an opt-out committed in between was neither
          // replayed nor found by that query.
          this.options.onUnreplayableGap(name, since).catch((error: unknown) => {
            channel.lastError = `onUnreplayableGap: ${describe(error)}`;
            if (context === this.context) this.fail(channel.lastError, { refreshToken: false });
          });
        }
        continue;
      }
      channel.subscribed = false;
      const failure = classifyBayeuxFailure(message);
      channel.lastError = failure.detail;
      if (failure.kind === 'replay-invalid') {
        void this.handleExpiredReplay(context, name, channel, failure);
      } else {
        this.onFailure(context, message, failure);
      }
    }
  }

  private async handleExpiredReplay(
    context: ClientContext,
    name: string,
    channel: ChannelRuntime,
    failure: Extract<BayeuxFailure, { kind: 'replay-invalid' }>,
  ): Promise<void> {
    // The unreplayable window opens when the expiry is seen, not when the caller has finished recording it.
    const detectedAt = this.clock.now();
    const lost = channel.subscribedFrom ?? failure.replayId;
    if (lost === null || lost === '-1' || lost === '-2') {
      this.fail(`subscribe to ${name} refused: ${failure.detail}`, { refreshToken: false });
      return;
    }
    channel.expiredReplays += 1;
    this.logger.warn(
      { channel: name, lostReplayId: lost, fallback: this.options.expiredReplayFallback },
      'cometd replay id expired; events after it may be lost, resubscribing from the fallback',
    );
    try {
      await this.options.onReplayExpired(name, lost);
    } catch (error) {
      // Not acknowledged: keep the expired id so the next attempt fails the same way and asks again.
      this.fail(`onReplayExpired(${name}): ${describe(error)}`, { refreshToken: false });
      return;
    }
    channel.expiredReplayId = lost;
    channel.expiredAt ??= detectedAt;
    if (context === this.context)
      this.scheduleRestart(`replay id expired on ${name}`, { delayMs: 0, refreshToken: false });
  }

  private onFailure(context: ClientContext, message: BayeuxMessage, known?: BayeuxFailure): void {
    const failure = known ?? classifyBayeuxFailure(message);
    this.lastError = `${message.channel}: ${failure.detail}`;
    this.logger.warn({ channel: message.channel, kind: failure.kind, detail: failure.detail }, 'cometd request failed');
    if (context !== this.context) return;
    switch (failure.kind) {
      case 'auth':
        this.fail(this.lastError, { refreshToken: true });
        break;
      case 'busy':
        this.scheduleRestart(failure.detail, { delayMs: this.options.busyBackoffMs, refreshToken: false });
        break;
      case 'daily-limit':
        this.scheduleRestart(failure.detail, { delayMs: this.options.dailyLimitBackoffMs, refreshToken: false });
        break;
      case 'unknown-client':
        // faye re-handshakes on advice.reconnect "handshake" and resubscribes every channel; the outgoing
        // extension puts the stored replay ids on those subscribes.
        for (const channel of this.channels.values()) channel.subscribed = false;
        this.setStatus('reconnecting', failure.detail);
        if (message.advice?.reconnect === 'none') this.fail(this.lastError, { refreshToken: false });
        break;
      case 'replay-invalid':
      case 'other':
        if (failure.kind === 'replay-invalid' || failure.fatal || message.channel === '/meta/subscribe') {
          this.fail(this.lastError, { refreshToken: false });
        } else {
          this.setStatus('reconnecting', failure.detail);
        }
        break;
    }
  }

  /** A failure that needs a new client: the first retry is immediate, repeats back off exponentially. */
  private fail(reason: string, { refreshToken }: { refreshToken: boolean }): void {
    this.lastError = reason;
    this.consecutiveFailures += 1;
    this.scheduleRestart(reason, { delayMs: this.backoffMs(this.consecutiveFailures), refreshToken });
  }

  /** 0 for the first failure in a row, then base, 2 x base, ... up to maxBackoffMs. */
  private backoffMs(failuresInRow: number): number {
    if (failuresInRow <= 1) return 0;
    return Math.min(this.options.maxBackoffMs, this.options.baseBackoffMs * 2 ** (failuresInRow - 2));
  }

  private scheduleRestart(reason: string, { delayMs, refreshToken }: { delayMs: number; refreshToken: boolean }): void {
    if (!this.running) return;
    if (this.restartPending) {
      this.restartPending.refreshToken ||= refreshToken;
      return;
    }
    const stale = this.context?.token ?? this.options.session.current() ?? undefined;
    this.restartPending = { reason, refreshToken };
    this.restarts += 1;
    this.lastRestartReason = reason;
    this.disposeClient();
    this.nextAttemptAt = this.clock.now() + delayMs;
    this.setStatus(delayMs > 0 ? 'backing-off' : 'reconnecting', reason);
    this.logger.warn({ reason, delayMs, refreshToken }, 'cometd client restart scheduled');
    this.restartTimer = this.clock.setTimeout(() => {
      this.restartTimer = null;
      const pending = this.restartPending;
      this.restartPending = null;
      this.nextAttemptAt = null;
      if (!this.running || !pending) return;
      this.setStatus('connecting', reason);
      void (async () => {
        if (pending.refreshToken) {
          try {
            await this.options.session.refresh(stale);
          } catch (error) {
            this.fail(`re-authentication: ${describe(error)}`, { refreshToken: true });
            return;
          }
        }
        await this.buildClient();
      })();
    }, delayMs);
  }

  private enqueue(context: ClientContext, channelName: string, data: unknown): void {
    const channel = this.channels.get(channelName);
    if (!channel || context.disposed) return;
    channel.pending.push({ rawMessage: { channel: channelName, data }, replayId: replayIdOf(data) ?? '', epoch: channel.epoch, context });
    if (channel.drainScheduled) return;
    channel.drainScheduled = true;
    channel.queue = channel.queue.then(() => this.drain(channelName, channel));
  }

  /** Hands what was delivered meanwhile to onMessages in one call, then moves the channel's checkpoint. */
  private async drain(channelName: string, channel: ChannelRuntime): Promise<void> {
    const batch = channel.pending.splice(0, this.options.maxBatch ?? 500).filter((m) => !m.context.disposed && m.epoch === channel.epoch);
    if (channel.pending.length > 0) channel.queue = channel.queue.then(() => this.drain(channelName, channel));
    else channel.drainScheduled = false;
    if (batch.length === 0 || !this.running) return;
    const context = batch[batch.length - 1]!.context;
    try {
      await this.options.onMessages(channelName, batch.map(({ rawMessage, replayId }) => ({ rawMessage, replayId })));
    } catch (error) {
      channel.handlerFailures += 1;
      channel.failuresInRow += 1;
      if (channel.lastReplayId === null) channel.failedWithoutCheckpoint = true;
      channel.lastError = `onMessages: ${describe(error)}`;
      this.logger.error({ channel: channelName, replayIds: [batch[0]!.replayId, batch[batch.length - 1]!.replayId], error: describe(error) }, 'cometd message handler failed');
      // Nothing of the batch is stored: drop what is queued behind it and replay from the stored id.
      channel.epoch += 1;
      if (context === this.context) {
        this.lastError = channel.lastError;
        this.scheduleRestart(channel.lastError, {
          delayMs: this.backoffMs(channel.failuresInRow),
          refreshToken: false,
        });
      }
      return;
    }
    const withReplayIds = batch.filter((m) => m.replayId !== '');
    if (withReplayIds.length < batch.length) this.logger.warn({ channel: channelName, messages: batch.length - withReplayIds.length }, 'cometd message without data.event.replayId');
    const last = withReplayIds[withReplayIds.length - 1];
    if (last === undefined) return;
    channel.lastReplayId = last.replayId;
    channel.lastMessageAt = this.clock.now();
    channel.delivered += withReplayIds.length;
    channel.expiredReplayId = null;
    channel.failuresInRow = 0;
    channel.failedWithoutCheckpoint = false;
    channel.unreplayableSince = null;
    channel.expiredAt = null;
  }
}
