import { connect, createServer, type Server, type Socket } from 'node:net';
import { TestkitError } from './errors.js';

/**
 * - `pass`: forward bytes both ways (default).
 * - `refuse`: every new connection is reset at once (clients see ECONNRESET).
 * - `blackhole`: accept and never answer (clients hang until their own timeout).
 */
export type ProxyMode = 'pass' | 'refuse' | 'blackhole';

/** A loopback TCP proxy in front of one server, to make it unreachable without stopping it. */
export interface TcpProxy {
  /** Port clients connect to (127.0.0.1). */
  readonly port: number;
  /** Port the proxy forwards to (read at each new connection when given as a function). */
  readonly targetPort: number;
  readonly mode: ProxyMode;
  /** Connections currently open through the proxy. */
  readonly connections: number;
  /** Reset new and existing connections. */
  refuse(): void;
  /** Accept but never answer; existing connections are cut. */
  blackhole(): void;
  /** Back to forwarding. */
  restore(): void;
  close(): Promise<void>;
}

function reset(socket: Socket): void {
  if (socket.destroyed) return;
  if (typeof socket.resetAndDestroy === 'function' && !socket.connecting) socket.resetAndDestroy();
  else socket.destroy();
}

/**
 * `targetPort` is a port, or a function read at each new connection (a node that had to move to
 * another port when its first one was taken keeps its proxy, and so its client-facing port).
 */
export async function startTcpProxy(targetPort: number | (() => number), listenPort = 0): Promise<TcpProxy> {
  const target = typeof targetPort === 'function' ? targetPort : () => targetPort;
  let mode: ProxyMode = 'pass';
  const clients = new Set<Socket>();
  const upstreams = new Set<Socket>();

  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    clients.add(client);
    client.on('close', () => clients.delete(client));
    client.on('error', () => {});
    if (mode === 'refuse') return reset(client);
    if (mode === 'blackhole') return; // paused, never read, never answered
    const upstream = connect({ host: '127.0.0.1', port: target() });
    upstreams.add(upstream);
    upstream.on('close', () => {
      upstreams.delete(upstream);
      reset(client);
    });
    upstream.on('error', () => reset(client));
    client.on('close', () => upstream.destroy());
    upstream.on('connect', () => {
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  });
  server.on('error', () => {});

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', (err) => reject(new TestkitError(`proxy cannot listen: ${err.message}`, { cause: err })));
    server.listen(listenPort, '127.0.0.1', () => {
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : 0);
    });
  });
  server.unref();

  const cutAll = () => {
    for (const s of upstreams) s.destroy();
    for (const c of clients) reset(c);
  };

  return {
    port,
    get targetPort() {
      return target();
    },
    get mode() {
      return mode;
    },
    get connections() {
      return clients.size;
    },
    refuse() {
      mode = 'refuse';
      cutAll();
    },
    blackhole() {
      mode = 'blackhole';
      cutAll();
    },
    restore() {
      mode = 'pass';
    },
    close() {
      cutAll();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
