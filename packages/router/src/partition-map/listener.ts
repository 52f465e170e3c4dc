import pg from 'pg';
import { PARTITION_MAP_CHANNEL } from './store.js';

export interface MapListener {
  /** Connect and LISTEN; resolves after the first attempt (a failed one keeps retrying in the background). */
  start(): Promise<void>;
  close(): Promise<void>;
  readonly connected: boolean;
}

/**
 * One LISTEN connection to a coordinator's primary. `onVersion(clusterId, version)` for each announced
 * map; `onConnected()` after every (re)connection, when announcements may have been missed.
 */
export function createMapListener(opts: {
  pgConfig: () => Record<string, unknown>;
  /** A silent connection is found by a `SELECT 1` this often (it must answer within the same time). Default 5000 ms. */
  pingMs?: number;
  onVersion: (clusterId: string, version: number) => void;
  onConnected: () => void;
  onError: (err: Error) => void;
}): MapListener {
  let client: pg.Client | undefined;
  let closed = false;
  let connected = false;
  let timer: NodeJS.Timeout | undefined;
  let attempt = 0;
  let pinger: NodeJS.Timeout | undefined;
  let pinging = false;
  const pingMs = opts.pingMs ?? 5000;

  const schedule = () => {
    if (closed || timer) return;
    const delay = Math.min(5000, 100 * 2 ** Math.min(attempt++, 10));
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, delay);
    timer.unref();
  };

  const lost = (c: pg.Client, err?: Error) => {
    if (client !== c) return;
    client = undefined;
    connected = false;
    if (pinger) clearInterval(pinger);
    pinger = undefined;
    c.end().catch(() => undefined);
    if (err) opts.onError(err);
    schedule();
  };

  async function connect(): Promise<void> {
    if (closed) return;
    const c = new pg.Client({
      ...(opts.pgConfig() as pg.ClientConfig),
      keepAlive: true,
      application_name: 'pgm-partition-map',
    });
    c.on('error', (err) => lost(c, err));
    c.on('end', () => lost(c));
    c.on('notification', (m) => {
      if (m.channel !== PARTITION_MAP_CHANNEL || !m.payload) return;
      try {
        const { c: clusterId, v } = JSON.parse(m.payload) as { c: string; v: number };
        if (typeof clusterId === 'string' && typeof v === 'number') opts.onVersion(clusterId, v);
      } catch {
        // not ours
      }
    });
    client = c;
    try {
      await c.connect();
      await c.query(`LISTEN ${PARTITION_MAP_CHANNEL}`);
      if (closed || client !== c) {
        await c.end().catch(() => undefined);
        return;
      }
      connected = true;
      attempt = 0;
      // A connection that stopped answering (a half-open socket) would miss announcements silently.
      pinger = setInterval(() => {
        if (pinging || client !== c) return;
        pinging = true;
        const t = setTimeout(() => lost(c, new Error('partition map listener did not answer a ping')), pingMs);
        t.unref();
        c.query('SELECT 1')
          .then(
            () => undefined,
            (err: Error) => lost(c, err),
          )
          .finally(() => {
            clearTimeout(t);
            pinging = false;
          });
      }, pingMs);
      pinger.unref();
      opts.onConnected();
    } catch (err) {
      lost(c, err as Error);
    }
  }

  return {
    start: () => connect(),
    get connected() {
      return connected;
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      if (pinger) clearInterval(pinger);
      pinger = undefined;
      timer = undefined;
      const c = client;
      client = undefined;
      connected = false;
      if (c) await c.end().catch(() => undefined);
    },
  };
}
