// faye 1.4 ships no type declarations; this is the part of its client API the subscriber uses
// (faye src/protocol/client.js, extensible.js), typed once here instead of an ambient `declare module`.

export type BayeuxMessage = {
  channel: string;
  id?: string;
  clientId?: string;
  successful?: boolean;
  error?: string;
  subscription?: string | string[];
  advice?: { reconnect?: string; interval?: number; timeout?: number };
  ext?: Record<string, unknown>;
  data?: unknown;
  [key: string]: unknown;
};

export type FayeExtension = {
  incoming?: (message: BayeuxMessage, callback: (message: BayeuxMessage | null) => void) => void;
  outgoing?: (message: BayeuxMessage, callback: (message: BayeuxMessage | null) => void) => void;
};

export interface FayeSubscription {
  cancel(): void;
}

export interface FayeClient {
  setHeader(name: string, value: string): void;
  addExtension(extension: FayeExtension): void;
  disable(feature: string): void;
  subscribe(channel: string, callback: (data: unknown) => void): FayeSubscription;
  disconnect(): unknown;
  bind(event: 'transport:up' | 'transport:down', callback: () => void): void;
}

type FayeModule = {
  Client: new (endpoint: string, options?: { timeout?: number; retry?: number; interval?: number }) => FayeClient;
  logger?: unknown;
};

// eslint-disable-next-line @typescript-eslint/no-require-imports
const faye = require('faye') as FayeModule;

export function createFayeClient(endpoint: string, options: { retrySeconds: number }): FayeClient {
  return new faye.Client(endpoint, { retry: options.retrySeconds });
}

type FayeInternals = {
  _dispatcher?: {
    _envelopes?: Map<string, { timer?: unknown; request?: Promise<{ abort?: () => void } | undefined> | null }>;
    close?: () => void;
  };
};

/**
 * Stops a client for good. faye's disconnect() only closes the transport once the server answers it, and a
 * message already handed to the dispatcher keeps being retried at the transport level (dispatcher.js
 * handleError/_sendEnvelope) even after the client is abandoned; so after a grace period for the /meta/disconnect
 * this clears those retries and aborts the held long-poll (faye's private dispatcher state, faye 1.4).
 */
export function shutdownFayeClient(client: FayeClient, graceMs = 500): void {
  try {
    client.disconnect();
  } catch {
    // Not connected: nothing to say goodbye to.
  }
  const timer = setTimeout(() => {
    const dispatcher = (client as unknown as FayeInternals)._dispatcher;
    for (const envelope of dispatcher?._envelopes?.values() ?? []) {
      if (envelope.timer) clearTimeout(envelope.timer as NodeJS.Timeout);
      void envelope.request?.then((request) => request?.abort?.()).catch(() => undefined);
    }
    dispatcher?._envelopes?.clear();
    dispatcher?.close?.();
  }, graceMs);
  timer.unref();
}
