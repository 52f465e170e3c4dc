import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { PgmError, quoteIdent, redactSecrets } from '@pg-multiverse/core';
import { chunkMessages, type NotifyMessage, parseMessage } from './notify-message.js';

/** The part of a `pg.Client` the bus uses. */
export interface NotifyClientLike {
  connect(): Promise<unknown>;
  query(text: string, values?: unknown[]): Promise<unknown>;
  end(): Promise<unknown>;
  on(event: 'notification', l: (m: { channel: string; payload?: string }) => void): unknown;
  on(event: 'error' | 'end', l: (err?: Error) => void): unknown;
  removeAllListeners?(event?: string): unknown;
}

export interface NotifyBusOptions {
  /**
   * Called on every (re)connect: return a `pg.ClientConfig` (or connection
   * string) for the cluster's CURRENT primary, or an unconnected `pg.Client`.
   * Calling it again after a failover is how the bus follows the primary.
   */
  connect: () =>
    | Record<string, unknown>
    | string
    | NotifyClientLike
    | Promise<Record<string, unknown> | string | NotifyClientLike>;
  /** LISTEN/NOTIFY channel. Default `pgm_cache`. */
  channel?: string;
  /** Identifies this process; its own messages are ignored. Default a random UUID. */
  instanceId?: string;
  /** For events and errors. */
  clusterId?: string;
  /** First reconnect delay, ms (doubles up to `maxReconnectDelayMs`). Default 100. */
  reconnectDelayMs?: number;
  /** Default 5000. */
  maxReconnectDelayMs?: number;
  /** Probe the listener connection this often; a probe that does not answer within the interval drops it. Default 10000. 0 = off. */
  pingIntervalMs?: number;
  /** Messages kept while disconnected (sent after reconnect); beyond it they collapse into one "clear all". Default 1000. */
  maxQueued?: number;
}

/** An invalidation received from another instance, or a gap (`gap: true`, clear everything). */
export interface BusInvalidation extends NotifyMessage {
  gap?: boolean;
}

export interface NotifyBus {
  readonly instanceId: string;
  readonly channel: string;
  readonly clusterId: string | undefined;
  /** True while LISTEN is active. */
  readonly connected: boolean;
  /** Connect and LISTEN. Resolves after the first attempt; a failed attempt keeps retrying in the background. */
  start(): Promise<void>;
  /** Broadcast an invalidation to the other instances (queued while disconnected). */
  publish(msg: NotifyMessage): Promise<void>;
  /** Receive invalidations from other instances and gap notices. */
  subscribe(listener: (inv: BusInvalidation) => void): () => void;
  /** `connected`, `disconnected`, `error` ({ error }). */
  on(event: 'connected' | 'disconnected' | 'error', listener: (e?: { error: Error }) => void): unknown;
  close(): Promise<void>;
}

function isClient(x: unknown): x is NotifyClientLike {
  return !!x && typeof x === 'object' && typeof (x as NotifyClientLike).connect === 'function';
}

/**
 * Cross-instance invalidation for per-instance (memory) stores: one dedicated
 * connection LISTENs on the cluster's primary; invalidations are published
 * with `pg_notify` (payloads chunked under PostgreSQL's 8000-byte limit). A
 * dropped listener reconnects with backoff and reports a gap, because
 * messages sent meanwhile are lost: the cache then clears itself.
 */
export function createNotifyBus(options: NotifyBusOptions): NotifyBus {
  if (!options || typeof options.connect !== 'function') {
    throw new PgmError('INVALID_ARGUMENT', 'createNotifyBus: pass { connect: () => pg client config }');
  }
  const channel = options.channel ?? 'pgm_cache';
  const instanceId = options.instanceId ?? randomUUID();
  const baseDelay = options.reconnectDelayMs ?? 100;
  const maxDelay = options.maxReconnectDelayMs ?? 5000;
  const pingMs = options.pingIntervalMs ?? 10_000;
  const maxQueued = options.maxQueued ?? 1000;
  const emitter = new EventEmitter();
  const listeners = new Set<(inv: BusInvalidation) => void>();
  let client: NotifyClientLike | undefined;
  let connected = false;
  let closed = false;
  let everConnected = false;
  let attempt = 0;
  let timer: NodeJS.Timeout | undefined;
  let pinger: NodeJS.Timeout | undefined;
  let queue: string[] = [];
  let connecting: Promise<void> | undefined;

  // One query at a time per connection: publishes, the queued resend and pings all share the
  // listener connection, and pg deprecates (pg@9 removes) queueing queries on a busy client.
  const chains = new WeakMap<NotifyClientLike, Promise<unknown>>();
  const serially = <T>(c: NotifyClientLike, run: () => Promise<T>): Promise<T> => {
    const next = (chains.get(c) ?? Promise.resolve()).then(run);
    chains.set(
      c,
      next.then(
        () => undefined,
        () => undefined,
      ),
    );
    return next;
  };
  const notify = (c: NotifyClientLike, payload: string) =>
    serially(c, () => c.query('SELECT pg_notify($1, $2)', [channel, payload]));

  const deliver = (inv: BusInvalidation) => {
    for (const l of listeners) l(inv);
  };
  const fail = (error: unknown) => {
    const e =
      error instanceof PgmError
        ? error
        : new PgmError(
            'CACHE_ERROR',
            `cache notify bus (${options.clusterId ?? channel}): ${redactSecrets(String((error as Error)?.message ?? error))}`,
            { cause: error, ...(options.clusterId ? { clusterId: options.clusterId } : {}) },
          );
    if (emitter.listenerCount('error') > 0) emitter.emit('error', { error: e });
  };

  const dropConnection = (c: NotifyClientLike | undefined) => {
    if (!c) return;
    c.removeAllListeners?.('notification');
    c.end().catch(() => {});
  };

  const lost = (c: NotifyClientLike, err?: Error) => {
    if (client !== c) return;
    client = undefined;
    if (pinger) clearInterval(pinger);
    pinger = undefined;
    const was = connected;
    connected = false;
    dropConnection(c);
    if (err) fail(err);
    if (was) {
      emitter.emit('disconnected');
      deliver({ all: true, gap: true });
    }
    schedule();
  };

  const schedule = () => {
    if (closed || timer) return;
    const delay = Math.min(maxDelay, baseDelay * 2 ** Math.min(attempt, 16));
    attempt++;
    timer = setTimeout(
      () => {
        timer = undefined;
        void connect();
      },
      Math.round(delay * (0.75 + Math.random() * 0.5)),
    );
    timer.unref();
  };

  const sendQueued = async (c: NotifyClientLike) => {
    while (queue.length > 0 && client === c && connected) {
      const payload = queue[0]!;
      await notify(c, payload);
      queue.shift();
    }
  };

  const connect = (): Promise<void> => {
    if (closed) return Promise.resolve();
    connecting ??= (async () => {
      let c: NotifyClientLike | undefined;
      try {
        const target = await options.connect();
        if (isClient(target)) c = target;
        else {
          const pg = (await import('pg')) as unknown as { default?: { Client: unknown }; Client?: unknown };
          const Client = (pg.default?.Client ?? pg.Client) as new (cfg: unknown) => NotifyClientLike;
          const cfg = typeof target === 'string' ? { connectionString: target } : { ...target };
          c = new Client({ keepAlive: true, application_name: 'pgm-cache-notify', ...cfg });
        }
        c.on('error', (err) => lost(c!, err));
        c.on('end', () => lost(c!));
        c.on('notification', (m) => {
          if (m.channel !== channel || !m.payload) return;
          const msg = parseMessage(m.payload);
          if (!msg || msg.from === instanceId) return;
          deliver(msg.body);
        });
        await c.connect();
        await serially(c, () => c!.query(`LISTEN ${quoteIdent(channel)}`));
        if (closed) {
          dropConnection(c);
          return;
        }
        client = c;
        connected = true;
        attempt = 0;
        if (everConnected) deliver({ all: true, gap: true });
        everConnected = true;
        emitter.emit('connected');
        if (pingMs > 0) {
          pinger = setInterval(() => ping(c!), pingMs);
          pinger.unref();
        }
        await sendQueued(c).catch((err) => lost(c!, err));
      } catch (err) {
        if (c && client !== c) dropConnection(c);
        if (c && client === c) lost(c, err as Error);
        else {
          fail(err);
          schedule();
        }
      }
    })().finally(() => {
      connecting = undefined;
    });
    return connecting;
  };

  let pinging = false;
  const ping = (c: NotifyClientLike) => {
    if (pinging || client !== c) return;
    pinging = true;
    // The clock runs while the ping waits its turn too: a connection whose queries stop completing is dropped.
    const t = setTimeout(() => lost(c, new Error('listener connection did not answer a ping')), pingMs);
    t.unref();
    serially(c, () => c.query('SELECT 1'))
      .then(
        () => undefined,
        (err) => lost(c, err),
      )
      .finally(() => {
        clearTimeout(t);
        pinging = false;
      });
  };

  const enqueue = (payloads: string[]) => {
    queue.push(...payloads);
    if (queue.length > maxQueued) queue = chunkMessages(instanceId, { all: true });
  };

  return {
    instanceId,
    channel,
    clusterId: options.clusterId,
    get connected() {
      return connected;
    },
    start: () => connect(),
    async publish(msg) {
      if (closed) return;
      const payloads = chunkMessages(instanceId, msg);
      const c = client;
      if (!c || !connected || queue.length > 0) return void enqueue(payloads);
      for (let i = 0; i < payloads.length; i++) {
        try {
          await notify(c, payloads[i]!);
        } catch (err) {
          enqueue(payloads.slice(i));
          lost(c, err as Error);
          return;
        }
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    on(event, listener) {
      return emitter.on(event, listener);
    },
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      if (pinger) clearInterval(pinger);
      timer = pinger = undefined;
      const c = client;
      client = undefined;
      connected = false;
      listeners.clear();
      if (c) {
        c.removeAllListeners?.('notification');
        await c.end().catch(() => {});
      }
    },
  };
}
