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

/**
 * How a statement's result is shaped: the fields of pg's `QueryConfig` besides
 * `text` and `values` that the router passes through to the node's session
 * (the `pg.Pool`-compatible pool of the facade sends what libraries ask for).
 * A provider that cannot honour one must refuse the statement, never ignore it.
 */
export interface StatementShape {
  /** `'array'`: rows as arrays of column values (pg's `rowMode`), needed when columns share a name. */
  readonly rowMode?: 'array';
  /** Custom type parsers for this statement (pg's `CustomTypesConfig`: `{ getTypeParser(oid, format) }`). */
  readonly types?: { getTypeParser(oid: number, format?: string): unknown };
  /** Prepared-statement name (pg's named statements: parsed once per connection, then reused). */
  readonly name?: string;
}

/** One dedicated session (a checked-out pooled connection). */
export interface Connection {
  /** `shape` (optional): see `StatementShape`; a connection that cannot honour it throws. */
  query<R = Record<string, unknown>>(
    text: string,
    values?: readonly unknown[],
    shape?: StatementShape,
  ): Promise<QueryResult<R>>;
  /**
   * Optional capability: run the `prelude` statements (no parameters, one statement each, e.g.
   * `BEGIN`, `SELECT set_config(...)`) and then `text` with `values`, in one round trip, as one
   * pipeline: a prelude statement that fails stops everything after it (`text` does not run) and
   * rejects with its error. Resolves with `text`'s result and, per prelude statement, the text
   * values of its first row (`[]` when it returned none). Without `values` (or with none), `text`
   * may hold several statements; its result is then what `query(text)` would give (an array for
   * several). Callers fall back to `query` calls one after another when a connection lacks it.
   * `poolProvider`'s sessions have it (with values: pg's extended protocol, one Sync; without: one
   * simple-protocol message).
   */
  queryAfter?<R = Record<string, unknown>>(
    prelude: readonly string[],
    text: string,
    values?: readonly unknown[],
  ): Promise<PipelinedResult<R>>;
  /**
   * Optional capability: hand a pg `Submittable` (e.g. `from(sql)` of pg-copy-streams for
   * `COPY ... FROM STDIN`) to the session's pg client and return it, as `client.query(submittable)`
   * does. `poolProvider` has it; `pgm.copyFrom` needs it (and says so when a provider lacks it).
   */
  submit?<S extends object>(submittable: S): S;
}

/** What `Connection.queryAfter` resolves with. */
export interface PipelinedResult<R = Record<string, unknown>> {
  result: QueryResult<R>;
  /** Per prelude statement: its first row's values as text (null for SQL NULL), `[]` without rows. */
  prelude: (string | null)[][];
}

/**
 * What one statement needs of the session it runs on (`ConnectionProvider.run`).
 * Every member is optional; `{}` asks for a clean session (server-default
 * search_path) and nothing else.
 */
export interface SessionRequirements {
  /**
   * search_path for the statement, as SQL, already quoted (`"users", public`),
   * or undefined for the session default. Whatever it was set to must not be
   * visible to later users of the session except through `run` asking for the
   * same value.
   */
  readonly searchPath?: string;
  /**
   * Before the statement, read on the same session whether the server is in
   * recovery and its WAL position (`pg_last_wal_replay_lsn()` on a standby,
   * `pg_current_wal_insert_lsn()` on a primary): the result includes at least
   * that position. Reported as `position`.
   */
  readonly readPosition?: boolean;
  /**
   * Like `readPosition`, and skip the statement (resolve with `result:
   * undefined`) when the session is on a standby that has not replayed this
   * position yet.
   */
  readonly requireReplayLsn?: bigint;
  /**
   * After the statement, read `pg_current_wal_insert_lsn()` on the same session (`lsn`). If
   * that read fails after the statement succeeded, `run` still resolves, with `lsnError`.
   */
  readonly captureLsn?: boolean;
}

/** Where a session's server was just before the statement (`readPosition`, `requireReplayLsn`). */
export interface SessionPosition {
  inRecovery: boolean;
  lsn?: bigint;
}

/** The outcome of `ConnectionProvider.run`. */
export interface SessionRun<R = Record<string, unknown>> {
  /** The statement's result (the last one of a multi-statement text); undefined when `requireReplayLsn` skipped it. */
  result: QueryResult<R> | undefined;
  /** `captureLsn`: the write position after the statement; skipped statement: the replay position seen. */
  lsn?: bigint;
  /** Set when `readPosition` or `requireReplayLsn` was asked for. */
  position?: SessionPosition;
  /**
   * `captureLsn`: the statement succeeded (and, in autocommit, committed) but reading the
   * position afterwards failed with this error. The result stands; the position is unknown.
   */
  lsnError?: unknown;
}

/** Called once when a `run` settles, before its promise does (lets a caller keep counters without another promise). */
export type RunSettled = (ok: boolean) => void;

/**
 * A node's connections. The default implementation wraps a `pg.Pool`
 * (`poolProvider(pool, id)`); applications may pass their own.
 *
 * The router runs every statement through `run` when the provider has it, and
 * otherwise through `query` / `withConnection` (`runStatement` in core: the
 * exact cost of each path is in core's README).
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
   * throws, the session is discarded when it may be in a bad state. Session
   * state `fn` set (`SET`, search_path) must not be seen by later checkouts
   * (reset it, or discard the session).
   */
  withConnection<T>(fn: (c: Connection) => Promise<T>): Promise<T>;
  /**
   * Optional capability: run one statement on a session that meets `session`
   * (search_path, WAL position work) in as few round trips as the provider can
   * manage, and leave the session so that no other caller sees what it set.
   * `poolProvider` pins each pooled session's search_path and skips the `SET`
   * when a session already has it: one round trip per statement in steady state.
   * If `settled` is given it must be called exactly once, before the returned
   * promise settles: `true` when the statement ran (or was skipped by
   * `requireReplayLsn`), `false` when it failed. `shape` (optional): rowMode, custom
   * types, statement name for the statement itself (see `StatementShape`).
   */
  run?<R = Record<string, unknown>>(
    text: string,
    values: readonly unknown[] | undefined,
    session: SessionRequirements,
    settled?: RunSettled,
    shape?: StatementShape,
  ): Promise<SessionRun<R>>;
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
