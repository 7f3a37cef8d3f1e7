// Salesforce's Pub/Sub API (gRPC, package eventbus.v1) over TLS, fed by the same event bus as the CometD server.
// Follows pubsub_api.proto (vendored beside this file) and the Pub/Sub API Developer Guide: "Subscribe RPC Method"
// and "Flow Control" (pull-based, num_requested adds to what is outstanding, at most 100 outstanding per stream,
// pending_num_requested in every response), "Event Message Durability" (presets LATEST / EARLIEST / CUSTOM, CUSTOM
// starts after the given opaque replay id, only the first FetchRequest's replay option counts), keepalives (an
// empty FetchResponse with the latest replay id when there is nothing to deliver, within 270 s), "Handle Errors"
// (status code, a custom `error-code` trailer such as
// sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted, the RPC id after "rpcId:"), and the auth
// metadata headers accesstoken / instanceurl / tenantid.
import path from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ChannelMessage, EventBus, RetainedEvent } from '../event-bus';
import type { FieldType } from '../sobject-schema';
import {
  SchemaRegistry,
  changeEventSchema,
  platformEventSchema,
  type EntityField,
  type PlatformEventFieldTypes,
  type RegisteredSchema,
} from './avro-schemas';
import { changeEventRecord, platformEventFields, platformEventRecord } from './event-encoding';
import { generateServerCertificate, type ServerCertificate } from './tls-certificate';

export const pubSubErrorCodes = {
  replayIdCorrupted: 'sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted',
  replayIdValidationFailed: 'sfdc.platform.eventbus.grpc.subscription.fetch.replayid.validation.failed',
  authError: 'sfdc.platform.eventbus.grpc.service.auth.error',
  topicNotFound: 'sfdc.platform.eventbus.grpc.subscription.topic.not.found',
  schemaNotFound: 'sfdc.platform.eventbus.grpc.schema.not.found',
  publishError: 'sfdc.platform.eventbus.grpc.publish.error',
} as const;

/** Most events a Subscribe stream may have outstanding ("num_requested ... max 100", Pub/Sub API allocations). */
export const maxOutstanding = 100;

export interface PubSubServerOptions {
  bus: EventBus;
  orgId: string;
  instanceUrl: () => string;
  /** The user of a valid access token, undefined for a revoked/expired/unknown one. */
  authenticate: (token: string) => { userId: string } | undefined;
  channelExists: (channel: string) => boolean;
  /** Fields of a change-tracked entity as the org describes it now. */
  entityFields: (entity: string) => EntityField[] | undefined;
  /** Custom CDC channel members (for GetTopic's schema id). */
  channelMembers: (channel: string) => string[];
  /** Platform event fields by event name (undefined: no such event). */
  platformEventFields: (name: string) => string[] | undefined;
  platformEventFieldTypes?: Record<string, PlatformEventFieldTypes>;
  publishPlatformEvent: (name: string, fields: Record<string, unknown>, userId: string) => { replayId: number };
  /** Salesforce: an empty FetchResponse "within 270 seconds" when there is nothing to deliver. */
  keepaliveMs?: number;
  host?: string;
  port?: number;
}

type FetchRequest = {
  topic_name: string;
  replay_preset: 'LATEST' | 'EARLIEST' | 'CUSTOM';
  replay_id: Buffer;
  num_requested: number;
};

type EventKey = { replayId: number; seq: number };

type Subscription = {
  id: string;
  call: grpc.ServerDuplexStream<FetchRequest, unknown>;
  token: string;
  channel: string | null;
  /** Last event delivered (null: nothing yet, start at the first retained). */
  cursor: EventKey | null;
  credit: number;
  lastSentAt: number;
  delivered: number;
  ended: boolean;
};

type Encoded = { id: string; schemaId: string; payload: Buffer };

/** Replay ids here are 12 opaque bytes: the bus position and the copy's index among events sharing it. */
export function encodeReplayId(key: EventKey): Buffer {
  const buffer = Buffer.alloc(12);
  buffer.writeBigUInt64BE(BigInt(key.replayId), 0);
  buffer.writeUInt32BE(key.seq, 8);
  return buffer;
}

function decodeReplayId(bytes: Buffer): EventKey | null {
  if (bytes.length !== 12) return null;
  return { replayId: Number(bytes.readBigUInt64BE(0)), seq: bytes.readUInt32BE(8) };
}

function compareKeys(a: EventKey, b: EventKey): number {
  return a.replayId - b.replayId || a.seq - b.seq;
}

type KeyedEvent = { key: EventKey; event: RetainedEvent };

function keyed(events: RetainedEvent[]): KeyedEvent[] {
  const out: KeyedEvent[] = [];
  let previous = -1;
  let seq = 0;
  for (const event of events) {
    seq = event.replayId === previous ? seq + 1 : 0;
    previous = event.replayId;
    out.push({ key: { replayId: event.replayId, seq }, event });
  }
  return out;
}

const protoPath = path.join(__dirname, 'pubsub_api.proto');

function loadService(): grpc.ServiceDefinition {
  const definition = protoLoader.loadSync(protoPath, { keepCase: true, longs: String, enums: String, defaults: true });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    eventbus: { v1: { PubSub: { service: grpc.ServiceDefinition } } };
  };
  return loaded.eventbus.v1.PubSub.service;
}

export class PubSubEmulatorServer {
  readonly schemas = new SchemaRegistry();
  private readonly server = new grpc.Server();
  private readonly subscriptions = new Set<Subscription>();
  private readonly encoded = new WeakMap<RetainedEvent, Encoded>();
  /** Per channel, the retained events with their keys as last seen (see keyedRetained). */
  private readonly keyedCache = new Map<string, KeyedEvent[]>();
  private keepaliveTimer: NodeJS.Timeout | null = null;
  private keepaliveMs: number;
  private unsubscribeBus: (() => void) | null = null;
  private stalled = false;
  /** Unary answers held back while unary calls are stalled (fault injection), released when unstalled. */
  private heldUnary: (() => void)[] | null = null;
  private failures: { code: grpc.status; errorCode: string; message: string }[] = [];
  private readonly corrupt: { match: (message: ChannelMessage) => boolean; how: 'truncate' | 'unknown-schema' | 'bad-bitmap' }[] = [];
  certificate: ServerCertificate | null = null;
  port = 0;
  totalDelivered = 0;
  /** GetSchema calls answered, by schema id (what a client's schema cache saves shows here). */
  readonly schemaRequests = new Map<string, number>();

  constructor(private readonly options: PubSubServerOptions) {
    this.keepaliveMs = options.keepaliveMs ?? 270_000;
    this.server.addService(loadService(), {
      Subscribe: (call: grpc.ServerDuplexStream<FetchRequest, unknown>) => this.subscribe(call),
      GetSchema: (call: grpc.ServerUnaryCall<{ schema_id: string }, unknown>, callback: grpc.sendUnaryData<unknown>) =>
        this.unary(() => this.getSchema(call, callback)),
      GetTopic: (call: grpc.ServerUnaryCall<{ topic_name: string }, unknown>, callback: grpc.sendUnaryData<unknown>) =>
        this.unary(() => this.getTopic(call, callback)),
      Publish: (call: grpc.ServerUnaryCall<PublishRequest, unknown>, callback: grpc.sendUnaryData<unknown>) =>
        this.publish(call, callback),
      PublishStream: (call: grpc.ServerDuplexStream<unknown, unknown>) =>
        call.emit('error', this.error(grpc.status.UNIMPLEMENTED, '', 'PublishStream is not emulated')),
      ManagedSubscribe: (call: grpc.ServerDuplexStream<unknown, unknown>) =>
        call.emit('error', this.error(grpc.status.UNIMPLEMENTED, '', 'ManagedSubscribe (beta) is not emulated')),
    });
  }

  /** Generates the TLS certificate (for 127.0.0.1 and localhost) and listens. */
  async start(): Promise<{ port: number; certificate: ServerCertificate }> {
    const certificate = await generateServerCertificate();
    this.certificate = certificate;
    const credentials = grpc.ServerCredentials.createSsl(
      null,
      [{ private_key: Buffer.from(certificate.privateKeyPem), cert_chain: Buffer.from(certificate.certificatePem) }],
      false,
    );
    const host = this.options.host ?? '127.0.0.1';
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(`${host}:${this.options.port ?? 0}`, credentials, (error, port) =>
        error ? reject(error) : resolve(port),
      ),
    );
    this.unsubscribeBus = this.options.bus.onPublish((event) => this.onPublish(event));
    this.armKeepalive();
    return { port: this.port, certificate };
  }

  async close(): Promise<void> {
    this.unsubscribeBus?.();
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    for (const sub of this.subscriptions) this.end(sub, this.error(grpc.status.UNAVAILABLE, '', 'server shutting down'));
    this.server.forceShutdown();
  }

  setKeepaliveMs(ms: number): void {
    this.keepaliveMs = ms;
    this.armKeepalive();
  }

  /** Streams stay open but nothing is sent, not even keepalives: the silent stall field reports describe. */
  setStalled(stalled: boolean): void {
    this.stalled = stalled;
    if (!stalled) for (const sub of this.subscriptions) this.pump(sub);
  }

  /**
   * Events matching this are delivered with a truncated payload that their schema cannot decode (fault injection:
   * what a client sees when a payload is damaged or its schema id names the wrong schema). Redeliveries carry the
   * same damaged bytes.
   */
  corruptPayloads(match: (message: ChannelMessage) => boolean, how: 'truncate' | 'unknown-schema' | 'bad-bitmap' = 'truncate'): void {
    this.corrupt.push({ match, how });
  }

  /** GetTopic and GetSchema accept calls but answer nothing until unstalled (a hung service; fault injection). */
  setUnaryStalled(stalled: boolean): void {
    if (stalled) {
      this.heldUnary ??= [];
      return;
    }
    const held = this.heldUnary ?? [];
    this.heldUnary = null;
    for (const answer of held) answer();
  }

  /** The next Subscribe calls fail with this status and error code (fault injection). */
  failNextSubscribes(times: number, code: grpc.status, errorCode: string, message: string): void {
    for (let i = 0; i < times; i++) this.failures.push({ code, errorCode, message });
  }

  /** Ends every open stream whose token is no longer valid (after a revoke or expiry), as UNAUTHENTICATED. */
  recheckTokens(): void {
    for (const sub of this.subscriptions) {
      if (!this.options.authenticate(sub.token)) {
        this.end(sub, this.error(grpc.status.UNAUTHENTICATED, pubSubErrorCodes.authError, 'Authentication failed'));
      }
    }
  }

  /** Ends every open stream as the service does when it is unavailable. */
  dropAllStreams(): void {
    for (const sub of this.subscriptions) {
      this.end(sub, this.error(grpc.status.UNAVAILABLE, 'sfdc.platform.eventbus.grpc.service.unavailable', 'The service is unavailable'));
    }
  }

  openStreams(): { channel: string | null; credit: number; delivered: number }[] {
    return [...this.subscriptions].map((s) => ({ channel: s.channel, credit: s.credit, delivered: s.delivered }));
  }

  private armKeepalive(): void {
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    if (!this.unsubscribeBus) return;
    const every = Math.max(10, Math.min(this.keepaliveMs, 1000));
    this.keepaliveTimer = setInterval(() => {
      const now = Date.now();
      for (const sub of this.subscriptions) {
        if (sub.channel === null || this.stalled || now - sub.lastSentAt < this.keepaliveMs) continue;
        this.send(sub, []);
      }
    }, every);
    this.keepaliveTimer.unref();
  }

  private error(code: grpc.status, errorCode: string, message: string): Partial<grpc.StatusObject> & Error {
    const rpcId = randomUUID();
    const metadata = new grpc.Metadata();
    if (errorCode) metadata.set('error-code', errorCode);
    metadata.set('rpc-id', rpcId);
    const details = `${message} rpcId: ${rpcId}`;
    return Object.assign(new Error(details), { code, details, metadata });
  }

  /** Checks the auth metadata headers: accesstoken, instanceurl and tenantid (the org id). */
  private authenticate(metadata: grpc.Metadata): { token: string; userId: string } | Partial<grpc.StatusObject> & Error {
    const header = (name: string): string | undefined => {
      const value = metadata.get(name)[0];
      return typeof value === 'string' ? value : undefined;
    };
    const token = header('accesstoken');
    const instanceUrl = header('instanceurl');
    const tenantId = header('tenantid');
    const fail = (why: string) => this.error(grpc.status.UNAUTHENTICATED, pubSubErrorCodes.authError, why);
    if (!token || !instanceUrl || !tenantId) return fail('Missing accesstoken, instanceurl or tenantid header');
    if (tenantId !== this.options.orgId) return fail('The tenantid does not match the org of the access token');
    if (instanceUrl.replace(/\/$/, '') !== this.options.instanceUrl()) return fail('The instanceurl does not match the org');
    const session = this.options.authenticate(token);
    if (!session) return fail('Authentication failed');
    return { token, userId: session.userId };
  }

  private schemaFor(channel: string, message: ChannelMessage): RegisteredSchema | null {
    if (channel.startsWith('/data/')) {
      const header = message.data.payload.ChangeEventHeader as { entityName?: unknown } | undefined;
      const entity = typeof header?.entityName === 'string' ? header.entityName : null;
      const fields = entity ? this.options.entityFields(entity) : undefined;
      return entity && fields ? this.schemas.register(changeEventSchema(entity, fields)) : null;
    }
    return this.platformEventSchema(channel.slice('/event/'.length));
  }

  private platformEventSchema(name: string): RegisteredSchema | null {
    const fields = this.options.platformEventFields(name);
    if (!fields) return null;
    return this.schemas.register(platformEventSchema(name, fields, this.options.platformEventFieldTypes?.[name] ?? {}));
  }

  private encode(channel: string, item: KeyedEvent): Encoded | null {
    const known = this.encoded.get(item.event);
    if (known) return known;
    const { message } = item.event;
    const schema = this.schemaFor(channel, message);
    if (!schema) return null;
    const record = channel.startsWith('/data/')
      ? changeEventRecord(schema.schema, message)
      : platformEventRecord(schema.schema, message);
    const id =
      message.data.event.EventUuid ??
      createHash('sha256').update(`${channel}:${item.key.replayId}:${item.key.seq}`).digest('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12}).*$/, '$1-$2-$3-$4-$5');
    // 'unknown-schema': the event names a schema id GetSchema does not know (NOT_FOUND). 'bad-bitmap': a
    // changedFields bitmap with a bit past the schema's fields (decodes as Avro, names no field).
    const damage = this.corrupt.find((c) => c.match(message))?.how;
    const header = (record as { ChangeEventHeader?: { changedFields?: string[] } }).ChangeEventHeader;
    if (damage === 'bad-bitmap' && header) header.changedFields = ['0x' + 'F'.repeat(64)];
    const payload = schema.type.toBuffer(record);
    const encoded = {
      id,
      schemaId: damage === 'unknown-schema' ? 'unknownSchemaId0000000' : schema.id,
      payload: damage === 'truncate' ? payload.subarray(0, Math.floor(payload.length / 2)) : payload,
    };
    this.encoded.set(item.event, encoded);
    return encoded;
  }

  private subscribe(call: grpc.ServerDuplexStream<FetchRequest, unknown>): void {
    const auth = this.authenticate(call.metadata);
    if (auth instanceof Error) {
      call.emit('error', auth);
      return;
    }
    const injected = this.failures.shift();
    if (injected) {
      call.emit('error', this.error(injected.code, injected.errorCode, injected.message));
      return;
    }
    const sub: Subscription = {
      id: randomUUID(),
      call,
      token: auth.token,
      channel: null,
      cursor: null,
      credit: 0,
      lastSentAt: Date.now(),
      delivered: 0,
      ended: false,
    };
    this.subscriptions.add(sub);
    call.on('data', (request: FetchRequest) => this.onFetch(sub, request));
    call.on('end', () => this.end(sub, null));
    call.on('cancelled', () => this.end(sub, null));
    call.on('error', () => this.end(sub, null));
  }

  private onFetch(sub: Subscription, request: FetchRequest): void {
    if (sub.ended) return;
    if (sub.channel === null) {
      const topic = request.topic_name;
      if (!topic || !this.options.channelExists(topic)) {
        this.end(sub, this.error(grpc.status.NOT_FOUND, pubSubErrorCodes.topicNotFound, `Topic not found: ${topic}`));
        return;
      }
      const retained = this.keyedRetained(topic);
      if (request.replay_preset === 'CUSTOM') {
        const key = decodeReplayId(request.replay_id);
        if (key === null) {
          this.end(sub, this.error(grpc.status.INVALID_ARGUMENT, pubSubErrorCodes.replayIdValidationFailed, 'Replay ID validation failed: a CUSTOM replay preset needs a valid replay_id'));
          return;
        }
        // Valid while the event it names is retained (72 h): older ids are "corrupted" (Handle Errors).
        if (!retained.some((e) => compareKeys(e.key, key) === 0)) {
          this.end(sub, this.error(grpc.status.INVALID_ARGUMENT, pubSubErrorCodes.replayIdCorrupted, 'The Replay ID validation failed. Ensure that the Replay ID is valid.'));
          return;
        }
        sub.cursor = key;
      } else if (request.replay_preset === 'EARLIEST') {
        sub.cursor = null;
      } else {
        sub.cursor = retained[retained.length - 1]?.key ?? { replayId: 0, seq: 0 };
      }
      sub.channel = topic;
    } else if (request.topic_name && request.topic_name !== sub.channel) {
      this.end(sub, this.error(grpc.status.INVALID_ARGUMENT, '', `topic_name must stay ${sub.channel} within one Subscribe call`));
      return;
    }
    sub.credit = Math.min(maxOutstanding, sub.credit + Math.max(0, request.num_requested));
    this.pump(sub);
  }

  private onPublish(event: RetainedEvent): void {
    const channel = event.message.channel;
    // The new event's key follows the last keyed one; a stream that had everything before it and still has credit
    // gets it at once. Keying and searching the whole retained log on every publish instead made a 10,000-event
    // burst quadratic, which held this process (and every emulator in it) for tens of seconds.
    const cached = this.keyedCache.get(channel);
    // Keyed already when something read the log between its append and this listener.
    const known = cached?.at(-1)?.event === event;
    const previous = (known ? cached?.at(-2) : cached?.at(-1))?.key ?? null;
    let next: KeyedEvent | null = null;
    if (cached !== undefined && previous !== null) {
      next = known ? cached.at(-1)! : { key: { replayId: event.replayId, seq: event.replayId === previous.replayId ? previous.seq + 1 : 0 }, event };
      if (!known) cached.push(next);
    }
    for (const sub of this.subscriptions) {
      if (sub.channel !== channel) continue;
      const caughtUp = next !== null && previous !== null && sub.cursor !== null && compareKeys(sub.cursor, previous) === 0;
      if (caughtUp && !sub.ended && sub.credit > 0 && !this.stalled) this.deliver(sub, [next!]);
      else this.pump(sub);
    }
  }

  /**
   * The channel's retained events with their keys. The keys of what was retained before are kept and the events
   * published since are keyed on; anything else (the oldest purged, a purge of everything) keys the log anew.
   */
  private keyedRetained(channel: string): KeyedEvent[] {
    const retained = this.options.bus.retained(channel);
    const cached = this.keyedCache.get(channel);
    const unchangedPrefix =
      cached !== undefined &&
      cached.length > 0 &&
      cached.length <= retained.length &&
      retained[0] === cached[0]!.event &&
      retained[cached.length - 1] === cached[cached.length - 1]!.event;
    if (!unchangedPrefix) {
      const fresh = keyed(retained);
      this.keyedCache.set(channel, fresh);
      return fresh;
    }
    let previous = cached[cached.length - 1]!.key;
    for (let i = cached.length; i < retained.length; i++) {
      const event = retained[i]!;
      previous = { replayId: event.replayId, seq: event.replayId === previous.replayId ? previous.seq + 1 : 0 };
      cached.push({ key: previous, event });
    }
    return cached;
  }

  /** Delivers what the stream has credit for, after its cursor. */
  private pump(sub: Subscription): void {
    if (sub.ended || sub.channel === null || sub.credit <= 0 || this.stalled) return;
    const retained = this.keyedRetained(sub.channel);
    let lo = 0;
    if (sub.cursor !== null) {
      let hi = retained.length;
      const cursor = sub.cursor;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (compareKeys(retained[mid]!.key, cursor) <= 0) lo = mid + 1;
        else hi = mid;
      }
    }
    const due = retained.slice(lo, lo + sub.credit);
    if (due.length === 0) return;
    this.deliver(sub, due);
  }

  private deliver(sub: Subscription, due: KeyedEvent[]): void {
    if (sub.channel === null) return;
    const events: unknown[] = [];
    for (const item of due) {
      const encoded = this.encode(sub.channel, item);
      sub.cursor = item.key;
      if (!encoded) continue;
      events.push({
        event: { id: encoded.id, schema_id: encoded.schemaId, payload: encoded.payload, headers: [] },
        replay_id: encodeReplayId(item.key),
      });
    }
    sub.credit -= due.length;
    sub.delivered += events.length;
    this.totalDelivered += events.length;
    this.send(sub, events);
  }

  private send(sub: Subscription, events: unknown[]): void {
    sub.lastSentAt = Date.now();
    sub.call.write({
      events,
      latest_replay_id: sub.cursor ? encodeReplayId(sub.cursor) : Buffer.alloc(0),
      rpc_id: randomUUID(),
      pending_num_requested: sub.credit,
    });
  }

  private end(sub: Subscription, error: (Partial<grpc.StatusObject> & Error) | null): void {
    if (sub.ended) return;
    sub.ended = true;
    this.subscriptions.delete(sub);
    if (error) sub.call.emit('error', error);
    else sub.call.end();
  }

  private unary(answer: () => void): void {
    if (this.heldUnary) this.heldUnary.push(answer);
    else answer();
  }

  private getSchema(call: grpc.ServerUnaryCall<{ schema_id: string }, unknown>, callback: grpc.sendUnaryData<unknown>): void {
    const auth = this.authenticate(call.metadata);
    if (auth instanceof Error) return callback(auth);
    this.schemaRequests.set(call.request.schema_id, (this.schemaRequests.get(call.request.schema_id) ?? 0) + 1);
    const schema = this.schemas.get(call.request.schema_id);
    if (!schema) return callback(this.error(grpc.status.NOT_FOUND, pubSubErrorCodes.schemaNotFound, `Schema not found: ${call.request.schema_id}`));
    callback(null, { schema_json: schema.json, schema_id: schema.id, rpc_id: randomUUID() });
  }

  private topicSchema(topic: string): RegisteredSchema | null {
    if (topic.startsWith('/event/')) return this.platformEventSchema(topic.slice('/event/'.length));
    const named = /^\/data\/(\w+)ChangeEvent$/.exec(topic)?.[1];
    const entity = named ?? this.options.channelMembers(topic)[0];
    const fields = entity ? this.options.entityFields(entity) : undefined;
    return entity && fields ? this.schemas.register(changeEventSchema(entity, fields)) : null;
  }

  private getTopic(call: grpc.ServerUnaryCall<{ topic_name: string }, unknown>, callback: grpc.sendUnaryData<unknown>): void {
    const auth = this.authenticate(call.metadata);
    if (auth instanceof Error) return callback(auth);
    const topic = call.request.topic_name;
    if (!this.options.channelExists(topic)) {
      return callback(this.error(grpc.status.NOT_FOUND, pubSubErrorCodes.topicNotFound, `Topic not found: ${topic}`));
    }
    const schema = this.topicSchema(topic);
    callback(null, {
      topic_name: topic,
      tenant_guid: this.options.orgId,
      can_publish: topic.startsWith('/event/'),
      can_subscribe: true,
      schema_id: schema?.id ?? '',
      rpc_id: randomUUID(),
    });
  }

  private publish(call: grpc.ServerUnaryCall<PublishRequest, unknown>, callback: grpc.sendUnaryData<unknown>): void {
    const auth = this.authenticate(call.metadata);
    if (auth instanceof Error) return callback(auth);
    const topic = call.request.topic_name;
    if (!topic.startsWith('/event/') || !this.options.channelExists(topic)) {
      return callback(this.error(grpc.status.NOT_FOUND, pubSubErrorCodes.topicNotFound, `Topic not found or not publishable: ${topic}`));
    }
    const name = topic.slice('/event/'.length);
    const schema = this.platformEventSchema(name);
    if (!schema) return callback(this.error(grpc.status.NOT_FOUND, pubSubErrorCodes.topicNotFound, `Topic not found: ${topic}`));
    const results = call.request.events.map((event) => {
      const correlation_key = event.id || randomUUID();
      const writer = this.schemas.get(event.schema_id);
      if (!writer || writer.id !== schema.id) {
        return { replay_id: Buffer.alloc(0), error: { code: 'PUBLISH', msg: `schema_id ${event.schema_id} is not the topic's schema` }, correlation_key };
      }
      try {
        const record = writer.type.fromBuffer(event.payload) as Record<string, unknown>;
        const { replayId } = this.options.publishPlatformEvent(name, platformEventFields(writer.schema, record), auth.userId);
        const seq = this.keyedRetained(topic).filter((e) => e.key.replayId === replayId).length - 1;
        return { replay_id: encodeReplayId({ replayId, seq: Math.max(0, seq) }), correlation_key };
      } catch (error) {
        return { replay_id: Buffer.alloc(0), error: { code: 'PUBLISH', msg: error instanceof Error ? error.message : String(error) }, correlation_key };
      }
    });
    callback(null, { results, schema_id: schema.id, rpc_id: randomUUID() });
  }
}

type PublishRequest = {
  topic_name: string;
  events: { id: string; schema_id: string; payload: Buffer }[];
};

export type { FieldType };
