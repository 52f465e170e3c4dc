import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { TestkitError } from './errors.js';

const handedOut = new Set<number>();

/** Lowest port of the kernel's ephemeral range (outgoing connections and `listen(0)` take ports from it). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/** Ports tried below the ephemeral range: [FLOOR, ephemeral low). */
const FLOOR = 20_000;

function tryListen(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', () => resolve(undefined));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      const addr = srv.address();
      const p = typeof addr === 'object' && addr ? addr.port : undefined;
      srv.close(() => resolve(p));
    });
  });
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (bound, read, released). It is taken below the
 * kernel's ephemeral range when that range leaves room: on a busy machine the thousands of outgoing
 * connections (and every `listen(0)`) draw their ports from that range, so a port picked there is
 * often taken again before the server that wanted it binds it. Never the same port twice in a process.
 */
export async function freePort(): Promise<number> {
  const low = ephemeralLow();
  if (low - FLOOR >= 1000) {
    for (let attempt = 0; attempt < 50; attempt++) {
      const candidate = FLOOR + Math.floor(Math.random() * (low - FLOOR));
      if (handedOut.has(candidate)) continue;
      const port = await tryListen(candidate);
      if (port !== undefined) {
        handedOut.add(port);
        return port;
      }
    }
  }
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await tryListen(0);
    // The kernel may hand the same ephemeral port out twice in a row; never reuse one within a process.
    if (port !== undefined && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new TestkitError('no free TCP port found on 127.0.0.1');
}
