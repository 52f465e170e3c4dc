/** Field metadata, as `pg` reports it. */
export interface FieldInfo {
  name: string;
  dataTypeID: number;
  [key: string]: unknown;
}

/** The result of one statement; structurally compatible with `pg.QueryResult`. */
export interface QueryResult<R = Record<string, unknown>> {
  rows: R[];
  rowCount: number | null;
  command: string;
  fields: FieldInfo[];
  [key: string]: unknown;
}

/** One dedicated session (a checked-out pooled connection). */
export interface Connection {
  query<R = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<QueryResult<R>>;
}

/**
 * A node's connections. The default implementation wraps a `pg.Pool`
 * (`poolProvider(pool, id)`); applications may pass their own.
 *
 * @example
 * const provider: ConnectionProvider = poolProvider(new pg.Pool({ port: 5433 }), 'users_cluster/primary');
 * await provider.query('SELECT 1');
 */
export interface ConnectionProvider {
  /** `"<clusterId>/<nodeId>"`, e.g. `users_cluster/replica-1`. */
  readonly id: string;
  /** Run one statement on any pooled connection. */
  query<R = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<QueryResult<R>>;
  /**
   * Run `fn` on one dedicated session, always released afterwards. If `fn`
   * throws, the session is discarded when it may be in a bad state.
   */
  withConnection<T>(fn: (c: Connection) => Promise<T>): Promise<T>;
  /** Pool counters. */
  stats(): PoolStats;
  /** Close every connection. Idempotent. */
  end(): Promise<void>;
}

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}
