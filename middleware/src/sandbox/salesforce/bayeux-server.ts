// Salesforce's CometD endpoint (/cometd/<version>): Bayeux 1.0 over long-polling only, the replay extension,
// cookies, and Salesforce's error strings and advice. Sources: Streaming API Developer Guide ("Clients and
// Cookies", "How the Client Connects", "Message Durability", "Handling Streaming API Errors", "Streaming API
// Error Codes") and the replies saved in fixtures/salesforce/bayeux/. Written by hand rather than with faye's
// server because those error replies and the replay semantics are exactly what must be emulated.
import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { ChannelMessage, EventBus, RetainedEvent } from './event-bus';

const messageSchema = z
  .object({
    channel: z.string(),
    id: z.union([z.string(), z.number()]).optional(),
    clientId: z.string().optional(),
    subscription: z.string().optional(),
    connectionType: z.string().optional(),
    supportedConnectionTypes: z.array(z.string()).optional(),
    ext: z.record(z.string(), z.unknown()).optional(),
  })
  .loose();
const requestSchema = z.union([z.array(messageSchema), messageSchema.transform((m) => [m])]);
type BayeuxRequestMessage = z.infer<typeof messageSchema>;
type Reply = Record<string, unknown>;

const replayMapSchema = z.record(z.string(), z.union([z.number(), z.string()]));

export const replayInvalidError = (replayId: string | number): string =>
  `400::The replayId {${String(replayId)}} you provided was invalid. Please provide a valid ID, -2 to replay all ` +
  'events, or -1 to replay only new events.';

const busyReason = '503::Server is too busy.  Please try your request again later.';

export interface BayeuxAuthResult {
  userId: string;
}

export interface BayeuxServerOptions {
  bus: EventBus;
  /** Answers the user of a valid token, undefined for a revoked/expired/unknown one. */
  authenticate: (token: string) => BayeuxAuthResult | undefined;
  channelExists: (channel: string) => boolean;
  /** Salesforce answers /meta/connect within 110 s. */
  connectTimeoutMs: number;
  /** Salesforce expires a client that does not reconnect within 40 s. */
  clientExpiryMs: number;
  requireCookies: boolean;
  /** What one subscribed user may see of an event (change events respect field-level security); default all of it. */
  visibleTo?: (userId: string, message: ChannelMessage) => ChannelMessage;
}

interface HeldConnect {
  messageId: BayeuxRequestMessage['id'];
  replies: Reply[];
  timer: NodeJS.Timeout;
  finish: (all: Array<Reply | ChannelMessage>) => void;
}

export interface BayeuxClientInfo {
  clientId: string;
  userId: string;
  apiVersion: number;
  subscriptions: string[];
  delivered: number;
}

interface BayeuxClient {
  id: string;
  token: string;
  userId: string;
  apiVersion: number;
  cookie: string;
  subscriptions: Set<string>;
  queue: ChannelMessage[];
  lastSeen: number;
  connects: number;
  delivered: number;
  held?: HeldConnect;
  flushScheduled: boolean;
}

function tokenFrom(req: Request): string | undefined {
  const header = req.get('authorization');
  if (!header) return undefined;
  // jsforce sends `OAuth <token>`; the docs show `Bearer <token>`; both are accepted.
  const match = /^(OAuth|Bearer)\s+(.+)$/i.exec(header.trim());
  return match?.[2];
}

function cookieValue(req: Request, name: string): string | undefined {
  const header = req.get('cookie') ?? '';
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

export class BayeuxServer {
  private readonly clients = new Map<string, BayeuxClient>();
  private busyRemaining = 0;
  private readonly sweeper: NodeJS.Timeout;
  private readonly unsubscribeBus: () => void;
  totalDelivered = 0;

  constructor(private readonly options: BayeuxServerOptions) {
    this.unsubscribeBus = options.bus.onPublish((event) => this.route(event));
    this.sweeper = setInterval(() => this.sweep(), Math.max(50, Math.min(1000, options.clientExpiryMs / 4)));
    this.sweeper.unref();
  }

  setTimeouts(t: { connectTimeoutMs?: number; clientExpiryMs?: number }): void {
    if (t.connectTimeoutMs !== undefined) this.options.connectTimeoutMs = t.connectTimeoutMs;
    if (t.clientExpiryMs !== undefined) this.options.clientExpiryMs = t.clientExpiryMs;
  }

  clientInfo(): BayeuxClientInfo[] {
    return [...this.clients.values()].map((c) => ({
      clientId: c.id,
      userId: c.userId,
      apiVersion: c.apiVersion,
      subscriptions: [...c.subscriptions],
      delivered: c.delivered,
    }));
  }

  /** The next `times` Bayeux requests are refused with the documented "Server is too busy" reply. */
  injectBusy(times: number): void {
    this.busyRemaining = times;
  }

  /** Deletes every client session, as a server-side timeout or Hyperforce re-balancing does. */
  expireAllClients(): void {
    for (const id of [...this.clients.keys()]) this.expireClient(id);
  }

  expireClient(clientId: string): void {
    const client = this.clients.get(clientId);
    if (!client) return;
    this.clients.delete(clientId);
    if (client.held) this.finishHeld(client, [unknownClient(client.held.messageId)], false);
  }

  /** Called after tokens are revoked: held long-polls of clients whose token died are answered with 401. */
  recheckTokens(): void {
    for (const client of this.clients.values()) {
      if (client.held && !this.options.authenticate(client.token)) {
        this.finishHeld(client, [authInvalid(client.id, client.held.messageId)], false);
      }
    }
  }

  close(): void {
    clearInterval(this.sweeper);
    this.unsubscribeBus();
    for (const client of this.clients.values()) {
      if (client.held) this.finishHeld(client, [], true);
    }
    this.clients.clear();
  }

  private sweep(): void {
    const now = Date.now();
    for (const client of [...this.clients.values()]) {
      if (!client.held && now - client.lastSeen > this.options.clientExpiryMs) this.clients.delete(client.id);
    }
  }

  private route(event: RetainedEvent): void {
    for (const client of this.clients.values()) {
      if (client.subscriptions.has(event.message.channel)) this.enqueue(client, [event]);
    }
  }

  private enqueue(client: BayeuxClient, events: RetainedEvent[]): void {
    for (const event of events) client.queue.push(this.forClient(client, event.message));
    if (client.held && !client.flushScheduled && client.queue.length > 0) {
      // Let the rest of the transaction's events join the same response.
      client.flushScheduled = true;
      setImmediate(() => {
        client.flushScheduled = false;
        if (client.held && client.queue.length > 0) this.finishHeld(client, [], true);
      });
    }
  }

  /** EventUuid is delivered only to CometD clients on API 52.0 or later (Platform Events guide, EventUuid). */
  private forClient(client: BayeuxClient, message: ChannelMessage): ChannelMessage {
    const copy = this.options.visibleTo ? this.options.visibleTo(client.userId, structuredClone(message)) : structuredClone(message);
    if (client.apiVersion < 52 && copy.data.event.EventUuid !== undefined) delete copy.data.event.EventUuid;
    return copy;
  }

  private finishHeld(client: BayeuxClient, replies: Reply[], withEvents: boolean): void {
    const held = client.held;
    if (!held) return;
    client.held = undefined;
    clearTimeout(held.timer);
    const events = withEvents ? client.queue.splice(0) : [];
    client.delivered += events.length;
    this.totalDelivered += events.length;
    const connectReply =
      replies.length > 0
        ? replies
        : [
            {
              clientId: client.id,
              channel: '/meta/connect',
              id: held.messageId,
              successful: true,
              advice: { reconnect: 'retry', interval: 0, timeout: this.options.connectTimeoutMs },
            },
          ];
    held.finish([...held.replies, ...events, ...connectReply]);
  }

  async handle(req: Request, res: Response, version: string | undefined): Promise<void> {
    if (version === undefined || version === '') {
      res.status(400).type('text/plain').send("API version in the URI is mandatory. URI format: '/cometd/66.0'");
      return;
    }
    const apiVersion = Number(version);
    if (!Number.isFinite(apiVersion) || apiVersion < 37) {
      res
        .status(400)
        .type('text/plain')
        .send("Unsupported API version. Only API versions '37.0' and later are supported.");
      return;
    }
    const parsed = requestSchema.safeParse(req.body);
    if (!parsed.success) {
      res.status(400).json([{ successful: false, error: '400::Invalid message' }]);
      return;
    }
    const token = tokenFrom(req);
    const replies: Reply[] = [];
    let connect: { message: BayeuxRequestMessage; client: BayeuxClient } | undefined;
    for (const message of parsed.data) {
      if (this.busyRemaining > 0) {
        this.busyRemaining -= 1;
        replies.push(busy(message));
        continue;
      }
      const reply = this.process(message, token, apiVersion, req, res);
      if (reply === 'hold') {
        const client = this.clients.get(message.clientId ?? '');
        if (client) connect = { message, client };
        continue;
      }
      replies.push(reply);
    }
    if (!connect) {
      res.json(replies);
      return;
    }
    const { client, message } = connect;
    await new Promise<void>((resolve) => {
      let done = false;
      const finish = (all: Array<Reply | ChannelMessage>): void => {
        if (done) return;
        done = true;
        client.lastSeen = Date.now();
        if (!res.headersSent) res.json(all);
        resolve();
      };
      client.held = {
        messageId: message.id,
        replies,
        timer: setTimeout(() => this.finishHeld(client, [], true), this.options.connectTimeoutMs),
        finish,
      };
      res.on('close', () => {
        if (client.held?.finish === finish) {
          clearTimeout(client.held.timer);
          client.held = undefined;
          client.lastSeen = Date.now();
        }
        resolve();
      });
      if (client.queue.length > 0 || client.connects === 1) {
        // The first connect of a session and a connect with events waiting are answered at once.
        this.finishHeld(client, [], true);
      }
    });
  }

  private process(
    message: BayeuxRequestMessage,
    token: string | undefined,
    apiVersion: number,
    req: Request,
    res: Response,
  ): Reply | 'hold' {
    if (message.channel === '/meta/handshake') return this.handshake(message, token, apiVersion, res);
    if (!token)
      return {
        channel: message.channel,
        id: message.id,
        error: '401::Request requires authentication',
        successful: false,
      };
    const auth = this.options.authenticate(token);
    const client = this.clients.get(message.clientId ?? '');
    if (!auth) return authInvalid(message.clientId, message.id, message.channel);
    if (!client) return unknownClient(message.id, message.channel);
    if (this.options.requireCookies && cookieValue(req, 'BAYEUX_BROWSER') !== client.cookie) {
      return {
        channel: message.channel,
        id: message.id,
        clientId: client.id,
        successful: false,
        error: `400::Client ${client.id} has established a session, but no BAYEUX_BROWSER cookie present`,
      };
    }
    client.token = token;
    client.lastSeen = Date.now();
    switch (message.channel) {
      case '/meta/connect':
        if (message.connectionType !== undefined && message.connectionType !== 'long-polling') {
          return {
            channel: message.channel,
            id: message.id,
            clientId: client.id,
            successful: false,
            error: `400::Invalid connection type ${message.connectionType}`,
          };
        }
        if (client.held) this.finishHeld(client, [], true);
        client.connects += 1;
        return 'hold';
      case '/meta/subscribe':
        return this.subscribe(client, message);
      case '/meta/unsubscribe':
        if (message.subscription) client.subscriptions.delete(message.subscription);
        return {
          clientId: client.id,
          channel: message.channel,
          id: message.id,
          subscription: message.subscription,
          successful: true,
        };
      case '/meta/disconnect':
        this.clients.delete(client.id);
        if (client.held) this.finishHeld(client, [], true);
        return { clientId: client.id, channel: message.channel, id: message.id, successful: true };
      default:
        // Clients cannot publish over Salesforce's CometD; events are published through the APIs.
        return {
          channel: message.channel,
          id: message.id,
          clientId: client.id,
          successful: false,
          error: '403::Restricted channel',
        };
    }
  }

  private handshake(
    message: BayeuxRequestMessage,
    token: string | undefined,
    apiVersion: number,
    res: Response,
  ): Reply {
    const denied = (failureReason: string): Reply => ({
      ext: { sfdc: { failureReason }, replay: true, 'payload.format': true },
      advice: { reconnect: 'none' },
      channel: '/meta/handshake',
      id: message.id,
      error: '403::Handshake denied',
      successful: false,
    });
    if (!token) return denied('401::Request requires authentication');
    const auth = this.options.authenticate(token);
    if (!auth) return denied('401::Authentication invalid');
    const client: BayeuxClient = {
      id: randomBytes(16)
        .toString('base64')
        .replace(/[^a-z0-9]/gi, '')
        .toLowerCase()
        .slice(0, 27)
        .padEnd(27, '0'),
      token,
      userId: auth.userId,
      apiVersion,
      cookie: randomBytes(12).toString('base64url'),
      subscriptions: new Set(),
      queue: [],
      lastSeen: Date.now(),
      connects: 0,
      delivered: 0,
      flushScheduled: false,
    };
    this.clients.set(client.id, client);
    // Clients must keep and send back the cookies set here ("Clients and Cookies").
    res.cookie('BAYEUX_BROWSER', client.cookie, { path: '/', httpOnly: true });
    return {
      ext: { replay: true, 'payload.format': true },
      minimumVersion: '1.0',
      clientId: client.id,
      supportedConnectionTypes: ['long-polling'],
      channel: '/meta/handshake',
      id: message.id,
      version: '1.0',
      successful: true,
    };
  }

  private subscribe(client: BayeuxClient, message: BayeuxRequestMessage): Reply {
    const subscription = message.subscription ?? '';
    const base = { clientId: client.id, channel: '/meta/subscribe', id: message.id, subscription };
    if (!this.options.channelExists(subscription)) {
      return {
        ...base,
        successful: false,
        error: `400::The channel you requested to subscribe to doesn't exist {${subscription}}`,
      };
    }
    const replayMap = replayMapSchema.safeParse(message.ext?.replay ?? {});
    const requested = replayMap.success ? replayMap.data[subscription] : undefined;
    // Without the replay extension a subscriber gets new events only, as with -1 ("Message Durability").
    const replayId = requested === undefined ? -1 : Number(requested);
    let backlog: RetainedEvent[] = [];
    if (replayId === -2) {
      backlog = this.options.bus.retained(subscription);
    } else if (replayId !== -1) {
      if (!Number.isInteger(replayId) || !this.options.bus.isRetained(subscription, replayId)) {
        return { ...base, successful: false, error: replayInvalidError(requested ?? replayId) };
      }
      backlog = this.options.bus.after(subscription, replayId);
    }
    client.subscriptions.add(subscription);
    this.enqueue(client, backlog);
    return { ...base, successful: true };
  }
}

function authInvalid(clientId: string | undefined, id: BayeuxRequestMessage['id'], channel = '/meta/connect'): Reply {
  return {
    ...(clientId ? { clientId } : {}),
    advice: { reconnect: 'none', interval: 0 },
    channel,
    id,
    error: '401::Authentication invalid',
    successful: false,
  };
}

function unknownClient(id: BayeuxRequestMessage['id'], channel = '/meta/connect'): Reply {
  return {
    advice: { interval: 0, reconnect: 'handshake' },
    channel,
    id,
    error: '403::Unknown client',
    successful: false,
  };
}

/** The documented "too busy" reply (fixture err-503-server-too-busy): 401 error text, 503 failure reason. */
function busy(message: BayeuxRequestMessage): Reply {
  return {
    channel: message.channel,
    id: message.id,
    error: '401::Authentication invalid',
    successful: false,
    ext: { sfdc: { failureReason: busyReason } },
    ...(message.clientId ? { clientId: message.clientId } : {}),
    advice: { reconnect: 'none', interval: 0 },
  };
}
