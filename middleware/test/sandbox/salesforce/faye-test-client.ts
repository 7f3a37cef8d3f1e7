// A real faye client configured the way Salesforce needs it (long-polling only, Authorization header, the
// replay extension keyed by subscription), recording every message it receives so tests can assert on them.
export interface FayeMessage {
  channel: string;
  subscription?: string;
  successful?: boolean;
  error?: string;
  clientId?: string;
  advice?: { reconnect?: string; interval?: number; timeout?: number };
  ext?: Record<string, unknown>;
  data?: unknown;
}

interface FayeSubscription {
  then(onOk: () => void, onErr: (e: unknown) => void): void;
  cancel(): void;
}

export interface FayeClient {
  disable(feature: string): void;
  setHeader(name: string, value: string): void;
  addExtension(ext: {
    incoming?: (m: FayeMessage, cb: (m: FayeMessage) => void) => void;
    outgoing?: (m: FayeMessage, cb: (m: FayeMessage) => void) => void;
  }): void;
  subscribe(channel: string, cb: (message: unknown) => void): FayeSubscription;
  disconnect(): void;
  getClientId?(): string;
}

interface FayeModule {
  Client: new (url: string, options?: { timeout?: number; retry?: number }) => FayeClient;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const faye = require('faye') as FayeModule;

export interface TestClient {
  client: FayeClient;
  /** Every message received, meta replies included. */
  incoming: FayeMessage[];
  /** Data messages per channel. */
  events: Map<string, unknown[]>;
  /** Replay id to send per channel on (re)subscribe. */
  replay: Record<string, number>;
  subscribe(channel: string): Promise<void>;
  /** Resolves with the subscribe reply, successful or not. */
  trySubscribe(channel: string): Promise<FayeMessage>;
  eventsOn(channel: string): unknown[];
  /** Disconnects and waits (bounded) for the server's reply so no request is left in flight. */
  close(): Promise<void>;
}

export function createTestClient(
  cometdUrl: string,
  token: string,
  opts: { scheme?: 'OAuth' | 'Bearer'; trackReplay?: boolean } = {},
): TestClient {
  const client = new faye.Client(cometdUrl, { timeout: 5, retry: 0.2 });
  // Salesforce supports long-polling only ("Streaming API Error Codes": Invalid connection type).
  client.disable('websocket');
  client.disable('autodisconnect');
  client.setHeader('Authorization', `${opts.scheme ?? 'OAuth'} ${token}`);
  const incoming: FayeMessage[] = [];
  const events = new Map<string, unknown[]>();
  const replay: Record<string, number> = {};
  const waiting = new Map<string, Array<(m: FayeMessage) => void>>();
  client.addExtension({
    outgoing(message, callback) {
      if (message.channel === '/meta/subscribe' && message.subscription) {
        const id = replay[message.subscription];
        if (id !== undefined) message.ext = { ...message.ext, replay: { [message.subscription]: id } };
      }
      callback(message);
    },
    incoming(message, callback) {
      incoming.push(message);
      if (message.channel === '/meta/subscribe' && message.subscription) {
        const list = waiting.get(message.subscription) ?? [];
        waiting.delete(message.subscription);
        for (const resolve of list) resolve(message);
      }
      if (!message.channel.startsWith('/meta/') && opts.trackReplay !== false) {
        const data = message.data as { event?: { replayId?: number } } | undefined;
        if (typeof data?.event?.replayId === 'number') replay[message.channel] = data.event.replayId;
      }
      callback(message);
    },
  });
  const eventsOn = (channel: string): unknown[] => {
    let list = events.get(channel);
    if (!list) {
      list = [];
      events.set(channel, list);
    }
    return list;
  };
  const trySubscribe = (channel: string): Promise<FayeMessage> =>
    new Promise((resolve) => {
      const list = waiting.get(channel) ?? [];
      list.push(resolve);
      waiting.set(channel, list);
      client
        .subscribe(channel, (m) => eventsOn(channel).push(m))
        .then(
          () => undefined,
          () => undefined,
        );
    });
  return {
    client,
    incoming,
    events,
    replay,
    eventsOn,
    trySubscribe,
    async subscribe(channel) {
      const reply = await trySubscribe(channel);
      if (!reply.successful) throw new Error(`subscribe to ${channel} failed: ${reply.error ?? ''}`);
    },
    async close() {
      const before = incoming.length;
      client.disconnect();
      const deadline = Date.now() + 1000;
      while (Date.now() < deadline && !incoming.slice(before).some((m) => m.channel === '/meta/disconnect')) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
  };
}
