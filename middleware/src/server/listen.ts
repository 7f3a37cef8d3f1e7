// Binding a listener, with the failures an operator meets on the first day turned into one sentence: a port that is
// taken or not allowed, an interface that does not exist here. The variable is named so the fix is obvious.
import type http from 'node:http';

export class ListenError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'ListenError';
  }
}

function describeListenFailure(code: string, what: string, host: string, port: number): string {
  const where = `${host}:${port}`;
  if (code === 'EADDRINUSE') return `${what} ${port} is already in use on ${host}: stop what listens there or choose another port (${where})`;
  if (code === 'EACCES') return `${what} ${port} needs privileges on ${host}: use a port above 1023 or put a proxy in front (${where})`;
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') return `${what}: the interface ${host} does not exist on this machine (${where})`;
  return `${what}: cannot listen on ${where} (${code})`;
}

/**
 * Node's defaults let a sender take 60 s over its headers and 300 s over its request: a few slow senders (slow loris)
 * would hold the webhook face's sockets. A delivery from AC is a small form POST sent at once.
 */
export const slowSenderLimits: Pick<http.ServerOptions, 'headersTimeout' | 'requestTimeout' | 'connectionsCheckingInterval'> = {
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  connectionsCheckingInterval: 2_000,
};

/** Listens and resolves with the bound port, or rejects with a ListenError naming the setting (`HTTP_PORT`). */
export function listen(server: http.Server, port: number, host: string, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(new ListenError(describeListenFailure(error.code ?? 'unknown', what, host, port), error.code ?? 'unknown'));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
}
