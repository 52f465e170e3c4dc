import type { EventEmitter } from 'node:events';
import {
  type ConnectionProvider,
  type ConsistencyLevel,
  PgmError,
  type PoolStats,
  type QueryResult,
  type SqlTextAnalysis,
  type StatementShape,
} from '@pg-multiverse/core';
import type { QueryPlan, RouteOptions, SessionToken } from '@pg-multiverse/router';
import pg from 'pg';
import type { QueryOptions } from './options.js';
import { RoutingPoolClient } from './pool-client.js';
import { deliver, deliverError, parseQueryArgs } from './pool-query.js';

/** Options of `pgm.pool(options)`. */
export interface RoutingPoolOptions {
  /**
   * Schema for statements whose tables are not schema-qualified: routes them to its cluster and
   * puts it first on the search_path. Statements naming tables of registered schemas
   * (`users.accounts`) go to those schemas' cluster whatever this says. Default: none (the
   * default cluster, on the server's search_path).
   */
  schema?: string;
  /** Consistency level for reads (as `query()`'s `consistency`). Default: the schema's, else the cluster's. */
  consistency?: ConsistencyLevel;
  /** Max replica lag for `bounded` reads, ms (as `query()`'s `maxLagMs`). */
  maxLagMs?: number;
  /** Force the primary or a replica for reads (as `query()`'s `role`). */
  role?: 'primary' | 'replica';
  /** Cache reads (needs `enableCache`), as `query()`'s `cache`. Default: per schema (`cacheStrategy`). */
  cache?: boolean;
  /** Time to live of cached results, ms. */
  cacheTtl?: number;
  /** Tags of cached results, for `invalidateCache({ tags })`. */
  tags?: string[];
  /**
   * Read-your-writes token for every statement of this pool. Default: the one of
   * `runWithSession` in scope, if any; a client from `connect()` without either gets its own.
   */
  sessionToken?: SessionToken;
}

const OPTION_KEYS: readonly (keyof RoutingPoolOptions)[] = [
  'schema',
  'consistency',
  'maxLagMs',
  'role',
  'cache',
  'cacheTtl',
  'tags',
  'sessionToken',
];

/** What the pool needs of the facade: its one query path, the router's analysis and plans, lent primary sessions. */
export interface PoolBackend {
  /**
   * `query()`'s path with the statement's shape and route options made once per pool or client
   * (`routeOptions`); rejects as node-postgres does (`toPgError`).
   */
  query<T>(
    sql: string,
    params: unknown[],
    options: QueryOptions,
    route: RouteOptions,
    shape: StatementShape | undefined,
  ): Promise<QueryResult<T>>;
  /** The route options of `options` (as `query()` makes them), with `defaultSchema` (the pool's `schema`). */
  routeOptions(options: QueryOptions, defaultSchema: string | undefined): RouteOptions;
  analyze(sql: string): SqlTextAnalysis;
  /** The router's plan (`params`: a `$n` compared with a shard key picks the shard). */
  plan(sql: string, options: RouteOptions, params?: readonly unknown[]): QueryPlan;
  /** The current primary of a cluster, or of one of its listed shards. */
  primary(clusterId: string, shardId?: string): ConnectionProvider;
  createSession(): SessionToken;
  currentSession(): SessionToken | undefined;
  /** True when some cluster or registered schema reads at `consistency: 'session'` by default. */
  sessionLevelInUse(): boolean;
  /** A transaction of a pool client committed on `clusterId`: invalidate the cache, note the session's position. */
  committed(
    clusterId: string,
    writes: readonly { sql: string; schema: string | undefined }[],
    token: SessionToken | undefined,
  ): Promise<void>;
  poolStats(): PoolStats;
  /** Subscribe to idle-connection errors of the nodes (the facade's `poolError`); returns the unsubscribe. */
  onIdleError(listener: (err: Error) => void): () => void;
  redact<E extends Error>(err: E): E;
}

let nextPoolId = 0;
const LEVELS: readonly ConsistencyLevel[] = ['strong', 'session', 'bounded', 'eventual'];

/** What is wrong with a known option's value, if anything. */
function invalidOption(o: RoutingPoolOptions): string | undefined {
  if (o.schema !== undefined && (typeof o.schema !== 'string' || o.schema === '')) {
    return `schema must be a non-empty string, got ${JSON.stringify(o.schema)}`;
  }
  if (o.consistency !== undefined && !LEVELS.includes(o.consistency)) {
    return `consistency must be one of ${LEVELS.join(', ')}, got ${JSON.stringify(o.consistency)}`;
  }
  if (o.role !== undefined && o.role !== 'primary' && o.role !== 'replica') {
    return `role must be 'primary' or 'replica', got ${JSON.stringify(o.role)}`;
  }
  for (const k of ['maxLagMs', 'cacheTtl'] as const) {
    const v = o[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) {
      return `${k} must be a number of ms >= 0, got ${JSON.stringify(v)}`;
    }
  }
  if (o.cache !== undefined && typeof o.cache !== 'boolean')
    return `cache must be true or false, got ${JSON.stringify(o.cache)}`;
  if (o.tags !== undefined && (!Array.isArray(o.tags) || o.tags.some((t) => typeof t !== 'string'))) {
    return 'tags must be an array of strings';
  }
  return undefined;
}

/**
 * A `pg.Pool`-compatible view of a `PgMultiverse` (`pgm.pool(options)`): libraries built on
 * node-postgres (Drizzle, Kysely, ...) take it where they take a `pg.Pool`. It opens no
 * connections of its own: every statement goes through the facade's query path (routing,
 * cache, metrics, events, tracing), and a client from `connect()` lends a primary session only
 * for the length of a transaction. See the package README, "pg.Pool-compatible pool".
 */
export class RoutingPool extends pg.Pool {
  /**
   * The options given to `pool()`, plus the sizing fields of pg's `pool.options` (so the pool is a
   * `pg.Pool` to TypeScript too). Those say nothing here: connections are the facade's (its
   * `connectionPool` option), so `max` and `maxUses` are Infinity, `idleTimeoutMillis` 0.
   */
  override readonly options: Readonly<RoutingPoolOptions> & {
    readonly max: number;
    readonly maxUses: number;
    readonly allowExitOnIdle: boolean;
    readonly maxLifetimeSeconds: number;
    readonly idleTimeoutMillis: number;
  };
  override ending = false;
  override ended = false;
  private readonly backend: PoolBackend;
  private readonly queryOptions: QueryOptions;
  /** The route options of every statement of `query()`, made once. */
  private readonly route: RouteOptions;
  private readonly clients = new Set<RoutingPoolClient>();
  private idleOff: (() => void) | undefined;
  private readonly id = ++nextPoolId;

  /** @internal Made by `pgm.pool(options)`. */
  constructor(backend: PoolBackend, options: RoutingPoolOptions = {}) {
    // A pg.Pool (libraries check `instanceof pg.Pool`, e.g. @prisma/adapter-pg) that never opens a connection.
    super();
    if (options === null || typeof options !== 'object') {
      throw new PgmError('INVALID_ARGUMENT', 'pool(options): options must be an object, e.g. { schema: "users" }');
    }
    const unknown = Object.keys(options).filter((k) => !(OPTION_KEYS as readonly string[]).includes(k));
    if (unknown.length > 0) {
      throw new PgmError(
        'INVALID_ARGUMENT',
        `pool(options): unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}; known: ${OPTION_KEYS.join(', ')}`,
      );
    }
    const bad = invalidOption(options);
    if (bad) throw new PgmError('INVALID_ARGUMENT', `pool(options): ${bad}`);
    this.backend = backend;
    this.options = Object.freeze({
      ...options,
      max: Number.POSITIVE_INFINITY,
      maxUses: Number.POSITIVE_INFINITY,
      allowExitOnIdle: true,
      maxLifetimeSeconds: 0,
      idleTimeoutMillis: 0,
    });
    const q: QueryOptions = {};
    if (options.consistency !== undefined) q.consistency = options.consistency;
    if (options.maxLagMs !== undefined) q.maxLagMs = options.maxLagMs;
    if (options.role !== undefined) q.role = options.role;
    if (options.cache !== undefined) q.cache = options.cache;
    if (options.cacheTtl !== undefined) q.cacheTtl = options.cacheTtl;
    if (options.tags !== undefined) q.tags = options.tags;
    if (options.sessionToken !== undefined) q.sessionToken = options.sessionToken;
    this.queryOptions = q;
    this.route = backend.routeOptions(q, options.schema);
    // Refuse a schema no cluster owns now, not at the first statement (UNKNOWN_SCHEMA names the known ones).
    if (options.schema !== undefined) backend.plan('SELECT 1', { schema: options.schema });
    // Idle-connection errors of the nodes are handled by the router; they are passed on as 'error' only
    // to a pool that listens for them (pg's pool would crash the process on an unhandled one).
    (this as EventEmitter).on('newListener', (event: string | symbol) => {
      if (event !== 'error' || this.idleOff || this.ended) return;
      this.idleOff = backend.onIdleError((err) => {
        if (this.listenerCount('error') > 0) this.emit('error', err);
      });
    });
  }

  /** Connections of every node the facade has open (pg: clients of this pool); getters (see below). */
  declare readonly totalCount: number;
  declare readonly idleCount: number;
  declare readonly waitingCount: number;
  /** Always 0: connections are the facade's, and they do not expire here. */
  declare readonly expiredCount: number;

  /** @internal The facade's pool counters, summed over every node. */
  stats(): PoolStats {
    return this.backend.poolStats();
  }

  /**
   * Run one statement, routed as `pgm.query` routes it. The forms of node-postgres:
   * `query(text, values?)`, `query({ text, values, rowMode, types, name })`, each with an optional
   * callback (then it returns undefined). Transaction control and session state (`BEGIN`, `SET`,
   * `LISTEN`, ...) are refused here: each statement may run on another connection; use `connect()`.
   */
  override query(a: unknown, b?: unknown, c?: unknown): any {
    let q: ReturnType<typeof parseQueryArgs>;
    try {
      q = parseQueryArgs(a, b, c);
    } catch (err) {
      return deliverError(err, a, b, c);
    }
    return deliver(this.run(q.text, q.values, q.shape), q.callback);
  }

  private run(text: string, values: unknown[], shape: StatementShape | undefined): Promise<QueryResult<any>> {
    try {
      if (this.ending) throw new PgmError('CLOSED', 'pool.query() after pool.end(); make a new one with pgm.pool()');
      const a = this.backend.analyze(text);
      if (a.transactionControl || a.sessionState) {
        const what = a.statements.find((s) => s.transactionControl || s.sessionState)?.command ?? 'it';
        throw new PgmError(
          'INVALID_ARGUMENT',
          `pool.query("${what} ..."): each statement of pool.query() may run on another connection, so ${what} would not apply to the next one; run transactions on a client (const c = await pool.connect(); await c.query('BEGIN') ...; c.release()) or with pgm.withTransaction(), and put settings inside the transaction (SET LOCAL)`,
        );
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return this.backend.query<any>(text, values, this.queryOptions, this.route, shape);
  }

  /**
   * A client: its statements are routed one by one like `query()`'s until `BEGIN`; from the
   * transaction's first statement that names a cluster until `COMMIT`/`ROLLBACK` they run on one
   * session of that cluster's primary. `release(err?)` returns it (an open transaction is rolled back).
   */
  override connect(): Promise<RoutingPoolClient>;
  override connect(
    callback: (err: Error | null, client?: RoutingPoolClient, done?: (err?: Error | boolean) => void) => void,
  ): void;
  override connect(
    callback?: (err: Error | null, client?: RoutingPoolClient, done?: (err?: Error | boolean) => void) => void,
  ): Promise<RoutingPoolClient> | undefined {
    let out: Promise<RoutingPoolClient>;
    if (this.ending) {
      out = Promise.reject(new PgmError('CLOSED', 'pool.connect() after pool.end(); make a new one with pgm.pool()'));
    } else {
      // A client reads its own writes: its own token, unless one is given or in scope. Only where some read
      // may ask for it (`session` consistency): a token costs each write a position read.
      const wantsOwn =
        this.options.consistency === 'session' ||
        (this.options.consistency === undefined && this.backend.sessionLevelInUse());
      const token =
        this.options.sessionToken ??
        this.backend.currentSession() ??
        (wantsOwn ? this.backend.createSession() : undefined);
      const queryOptions = token ? { ...this.queryOptions, sessionToken: token } : this.queryOptions;
      const client = new RoutingPoolClient(this.backend, {
        queryOptions,
        route: token ? this.backend.routeOptions(queryOptions, this.options.schema) : this.route,
        defaultSchema: this.options.schema,
        token,
        poolId: this.id,
        onRelease: (cl, err) => {
          this.clients.delete(cl);
          this.emit('release', err, cl);
          this.emit('remove', cl);
        },
      });
      this.clients.add(client);
      this.emit('connect', client);
      this.emit('acquire', client);
      out = Promise.resolve(client);
    }
    if (!callback) return out;
    out.then(
      (client) => callback(null, client, (err?: Error | boolean) => client.release(err)),
      (err: Error) => callback(err),
    );
    return undefined;
  }

  /**
   * Stop taking statements and wait for the clients still checked out to be released. The
   * facade and its connections stay open (close them with `pgm.close()`).
   */
  override end(): Promise<void>;
  override end(callback: (err?: Error) => void): void;
  override end(callback?: (err?: Error) => void): Promise<void> | undefined {
    if (this.ended || this.ending) {
      const err = new PgmError('CLOSED', 'pool.end() called more than once');
      if (callback) {
        callback(err);
        return undefined;
      }
      return Promise.reject(err);
    }
    this.ending = true;
    this.idleOff?.();
    this.idleOff = undefined;
    const done = Promise.all([...this.clients].map((c) => c.whenReleased())).then(() => {
      this.ended = true;
      this.emit('end');
    });
    if (!callback) return done;
    done.then(
      () => callback(),
      (err: Error) => callback(err),
    );
    return undefined;
  }
}

// pg.Pool declares its counters as properties; here they are the facade's, read when asked.
for (const [key, read] of [
  ['totalCount', (p: RoutingPool) => p.stats().total],
  ['idleCount', (p: RoutingPool) => p.stats().idle],
  ['waitingCount', (p: RoutingPool) => p.stats().waiting],
  ['expiredCount', () => 0],
] as const) {
  Object.defineProperty(RoutingPool.prototype, key, {
    get(this: RoutingPool) {
      return read(this);
    },
    configurable: true,
  });
}
