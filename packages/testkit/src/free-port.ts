import { createServer } from 'node:net';
import { TestkitError } from './errors.js';

const handedOut = new Set<number>();

/** A TCP port on 127.0.0.1 that was free a moment ago (bind port 0, read it, release). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.unref();
      srv.on('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const addr = srv.address();
        const p = typeof addr === 'object' && addr ? addr.port : 0;
        srv.close(() => resolve(p));
      });
    });
    // The kernel may hand the same ephemeral port out twice in a row; never reuse one within a process.
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new TestkitError('no free TCP port found on 127.0.0.1');
}
