import type pg from 'pg';

/** What `plainPoolProvider` returns: structurally a core `ConnectionProvider` without `run`. */
export interface PlainProvider {
  readonly id: string;
  query(text: string, values?: readonly unknown[]): Promise<pg.QueryResult>;
  withConnection<T>(fn: (c: { query: PlainProvider['query'] }) => Promise<T>): Promise<T>;
  stats(): { total: number; idle: number; waiting: number };
  end(): Promise<void>;
}

/**
 * An application's own `ConnectionProvider` as tests and benchmarks need one: a
 * thin wrapper over a `pg.Pool` with no `run` capability, so the router takes
 * its fallback. `withConnection` resets what `fn` set (`RESET ALL`, unless
 * `resetOnRelease: false`) and discards a session `fn` threw on. `onStatement` sees every statement text
 * sent (counting what the server receives). `end()` ends the pool once.
 */
export function plainPoolProvider(
  pool: pg.Pool,
  id: string,
  options: { onStatement?: (text: string) => void; endPool?: boolean; resetOnRelease?: boolean } = {},
): PlainProvider {
  const note = options.onStatement ?? (() => {});
  let ended = false;
  const query =
    (run: (t: string, v?: unknown[]) => Promise<pg.QueryResult>) => (text: string, values?: readonly unknown[]) => {
      note(text);
      return run(text, values as unknown[] | undefined);
    };
  return {
    id,
    query: query((t, v) => pool.query(t, v)),
    async withConnection(fn) {
      const client = await pool.connect();
      try {
        const out = await fn({ query: query((t, v) => client.query(t, v)) });
        if (options.resetOnRelease !== false) await client.query('RESET ALL');
        client.release();
        return out;
      } catch (err) {
        client.release(err instanceof Error ? err : true);
        throw err;
      }
    },
    stats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    async end() {
      if (ended || options.endPool === false) return;
      ended = true;
      await pool.end();
    },
  };
}
