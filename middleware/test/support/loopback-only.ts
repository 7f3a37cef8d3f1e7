// Tests talk to emulators on 127.0.0.1 only: any attempt to reach another host fails loudly instead of
// depending on a network that CI does not have.
import net from 'node:net';

const allowed = new Set(['127.0.0.1', 'localhost', '::1', '::ffff:127.0.0.1']);
const originalConnect = net.Socket.prototype.connect;

net.Socket.prototype.connect = function patchedConnect(this: net.Socket, ...args: unknown[]) {
  const first = args[0];
  let host: string | undefined;
  if (typeof first === 'object' && first !== null && 'port' in first) {
    host = (first as net.TcpNetConnectOpts).host ?? '127.0.0.1';
  } else if (typeof first === 'number') {
    host = typeof args[1] === 'string' ? args[1] : '127.0.0.1';
  }
  if (host !== undefined && !allowed.has(host)) {
    throw new Error(`test tried to reach ${host}: only 127.0.0.1 is allowed in tests`);
  }
  return (originalConnect as (...a: unknown[]) => net.Socket).apply(this, args);
} as typeof net.Socket.prototype.connect;
