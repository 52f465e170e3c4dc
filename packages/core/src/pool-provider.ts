import type { Connection, ConnectionProvider, PoolStats, QueryResult } from './contracts/connection-provider.js';

/** The part of `pg.Pool` that `poolProvider` uses (structural, so core needs no `pg`). */
export interface PoolLike {
  query(text: string, values?: unknown[]): Promise<unknown>;
  connect(): Promise<PoolClientLike>;
  end(): Promise<void>;
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
  on?(event: 'error', listener: (err: Error) => void): unknown;
}

export interface PoolClientLike {
  query(text: string, values?: unknown[]): Promise<unknown>;
  release(destroy?: boolean | Error): void;
  on?(event: 'error', listener: (err: Error) => void): unknown;
  off?(event: 'error', listener: (err: Error) => void): unknown;
}

export interface PoolProviderOptions {
  /** Called for errors of idle pooled connections (a dropped connection must never crash the process). */
  onIdleError?: (err: Error) => void;
  /** End the pool on `end()`. Default true (false for pools the application owns). */
  ownsPool?: boolean;
}

/**
 * Wrap a `pg.Pool` (or anything shaped like it) as a `ConnectionProvider`.
 * Installs an `error` listener so an idle connection dropped by the server
 * does not crash the process.
 */
export function poolProvider(pool: PoolLike, id: string, options: PoolProviderOptions = {}): ConnectionProvider {
  const ownsPool = options.ownsPool ?? true;
  pool.on?.('error', (err) => options.onIdleError?.(err));
  let ended = false;
  return {
    id,
    query<R>(text: string, values?: readonly unknown[]) {
      return pool.query(text, values as unknown[] | undefined) as Promise<QueryResult<R>>;
    },
    async withConnection<T>(fn: (c: Connection) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      // A checked-out pg client that loses its server (e.g. 57P01 on shutdown) emits 'error';
      // without a listener that would be an uncaught exception. Keep it and discard the client.
      let lost: Error | undefined;
      const onError = (err: Error) => {
        lost = err;
        options.onIdleError?.(err);
      };
      client.on?.('error', onError);
      const conn: Connection = {
        query: <R>(text: string, values?: readonly unknown[]) =>
          client.query(text, values as unknown[] | undefined) as Promise<QueryResult<R>>,
      };
      let broken: Error | undefined;
      try {
        return await fn(conn);
      } catch (err) {
        // A session that failed mid-way may hold an aborted transaction or a lock: discard it.
        broken = err instanceof Error ? err : new Error(String(err));
        throw err;
      } finally {
        client.off?.('error', onError);
        client.release(broken ?? lost);
      }
    },
    stats(): PoolStats {
      return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
    },
    async end() {
      if (ended || !ownsPool) return;
      ended = true;
      await pool.end();
    },
  };
}
