import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  type Connection,
  PgmError,
  type QueryResult,
  type SqlStatementAnalysis,
  type SqlTextAnalysis,
  type StatementShape,
  searchPathFor,
} from '@pg-multiverse/core';
import { type QueryPlan, type RouteOptions, runWithStatementContext, type SessionToken } from '@pg-multiverse/router';
import type { QueryOptions } from './options.js';
import type { PoolBackend } from './pool.js';
import { deliver, deliverError, localResult, parseQueryArgs, toPgError } from './pool-query.js';

/** @internal What the pool hands each client. */
export interface ClientSettings {
  queryOptions: QueryOptions;
  /** The route options of the client's routed statements (`queryOptions` and the pool's `schema`), made once. */
  route: RouteOptions;
  /** The pool's `schema`, if any. */
  defaultSchema: string | undefined;
  /** Read-your-writes token of the client's statements, if any (see `RoutingPool.connect`). */
  token: SessionToken | undefined;
  poolId: number;
  onRelease(client: RoutingPoolClient, err: Error | undefined): void;
}

/** The primary session a transaction runs on, lent by the router for the transaction's length. */
interface PinnedSession {
  clusterId: string;
  /** On a cluster sharded over listed servers: the shard the session is on. */
  shardId: string | undefined;
  conn: Connection;
  /** Give the session back (an error discards it); resolves once it is back. */
  finish(err?: Error): Promise<void>;
}

interface OpenTransaction {
  id: string;
  /** `BEGIN` (and savepoints, `SET`s) sent once the first statement names the cluster. */
  queued: string[];
  pinned: PinnedSession | undefined;
  /** Schema put on the search_path (`SET LOCAL`) of the pinned session, if any. */
  schema: string | undefined;
  writes: { sql: string; schema: string | undefined }[];
  failed: boolean;
}

type ControlVerb = 'begin' | 'commit' | 'rollback' | 'savepoint' | 'release' | 'rollback-to' | 'prepare' | 'chain';

/** The verb of a transaction-control statement (`ROLLBACK TO SAVEPOINT` is not an end). */
function controlVerb(text: string, st: SqlStatementAnalysis): ControlVerb {
  const words = text
    .slice(st.start, st.end)
    .replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, ' ')
    .trim()
    .toLowerCase()
    .split(/\s+/);
  const verb = words[0];
  if (verb === 'begin' || verb === 'start') return 'begin';
  if (verb === 'savepoint') return 'savepoint';
  if (verb === 'release') return 'release';
  if (verb === 'prepare') return 'prepare';
  let i = 1;
  if (words[i] === 'work' || words[i] === 'transaction') i++;
  if (words[i] === 'and' && (words[i + 1] === 'chain' || words[i + 2] === 'chain') && words[i + 1] !== 'no')
    return 'chain';
  if ((verb === 'rollback' || verb === 'abort') && words[i] === 'to') return 'rollback-to';
  return verb === 'commit' || verb === 'end' ? 'commit' : 'rollback';
}

/**
 * A client of `pgm.pool()` (what `pool.connect()` resolves to). Outside a transaction each
 * statement is routed as `pool.query()` routes it. `BEGIN` opens a transaction that is pinned,
 * at its first statement that names a cluster, to one session of that cluster's primary; a later
 * statement of the transaction that belongs to another cluster is refused
 * (`CROSS_CLUSTER_STATEMENT`), the transaction left as it was. Statements run one at a time, in
 * the order given, as on a pg client.
 */
export class RoutingPoolClient extends EventEmitter {
  /**
   * pg's connection fields, for type compatibility with `pg.PoolClient`: a routing client has no
   * one server (`host` is '', `port` 0); `connection` throws (there is no one connection).
   */
  readonly host = '';
  readonly port = 0;
  readonly ssl = false;
  readonly pipeline = false;
  readonly user: string | undefined = undefined;
  readonly database: string | undefined = undefined;
  readonly password: string | undefined = undefined;
  private readonly backend: PoolBackend;
  private readonly settings: ClientSettings;
  private tail: Promise<unknown> = Promise.resolve();
  private tx: OpenTransaction | undefined;
  private released = false;
  private releasing: Promise<void> | undefined;
  private signalReleased!: () => void;
  private readonly releasedPromise = new Promise<void>((resolve) => {
    this.signalReleased = resolve;
  });

  /** @internal Made by `pool.connect()`. */
  constructor(backend: PoolBackend, settings: ClientSettings) {
    super();
    this.backend = backend;
    this.settings = settings;
  }

  /** The read-your-writes token of this client's statements, if it has one. */
  get sessionToken(): SessionToken | undefined {
    return this.settings.token;
  }

  /** Same forms as `pool.query()`; transaction control and `SET LOCAL` are allowed here. */
  query(a: unknown, b?: unknown, c?: unknown): any {
    let q: ReturnType<typeof parseQueryArgs>;
    try {
      if (this.released) {
        throw new PgmError('CLOSED', 'client.query() after client.release(); take another one with pool.connect()');
      }
      q = parseQueryArgs(a, b, c);
    } catch (err) {
      return deliverError(err, a, b, c);
    }
    const run = this.tail.then(() => this.run(q.text, q.values, q.shape));
    this.tail = run.catch(() => {});
    return deliver(
      run.catch((err: unknown) => {
        throw toPgError(err instanceof Error ? this.backend.redact(err) : err);
      }),
      q.callback,
    );
  }

  private async run(text: string, values: unknown[], shape: StatementShape | undefined): Promise<QueryResult<any>> {
    const a = this.backend.analyze(text);
    if (a.transactionControl) {
      if (a.statements.length > 1) {
        throw new PgmError(
          'INVALID_ARGUMENT',
          'client.query(): send BEGIN, COMMIT, ROLLBACK and SAVEPOINT as statements of their own (not in a text with other statements), so the client knows where the transaction runs',
        );
      }
      return this.control(text, a.statements[0]!);
    }
    if (this.tx) return this.inTransaction(this.tx, text, values, shape, a);
    if (a.sessionState) {
      const what = a.statements.find((s) => s.sessionState)?.command ?? 'it';
      throw new PgmError(
        'INVALID_ARGUMENT',
        `client.query("${what} ...") outside a transaction: each statement may run on another connection, so ${what} would not apply to the next one; inside BEGIN ... COMMIT the client keeps one session (use SET LOCAL)`,
      );
    }
    return this.backend.query<any>(text, values, this.settings.queryOptions, this.settings.route, shape);
  }

  private async control(text: string, st: SqlStatementAnalysis): Promise<QueryResult<any>> {
    const verb = controlVerb(text, st);
    const t = this.tx;
    switch (verb) {
      case 'prepare':
        throw new PgmError(
          'INVALID_ARGUMENT',
          'PREPARE TRANSACTION on a pool client: two-phase commit across clusters is what pgm.withTransaction([...schemas], fn) does, with a durable decision and recovery',
        );
      case 'chain':
        throw new PgmError(
          'INVALID_ARGUMENT',
          'COMMIT/ROLLBACK AND CHAIN on a pool client: the next transaction may belong to another cluster; end the transaction, then send BEGIN again',
        );
      case 'begin':
        if (!t) {
          this.tx = {
            id: randomUUID(),
            queued: [text],
            pinned: undefined,
            schema: undefined,
            writes: [],
            failed: false,
          };
          return localResult('BEGIN');
        }
        // PostgreSQL answers a nested BEGIN with a warning and keeps the transaction.
        return t.pinned ? this.send(t, text) : localResult('BEGIN');
      case 'savepoint':
      case 'release':
      case 'rollback-to': {
        if (!t) {
          throw new PgmError(
            'INVALID_ARGUMENT',
            `${st.command} outside a transaction: savepoints exist only between BEGIN and COMMIT`,
          );
        }
        if (t.pinned) return this.send(t, text);
        t.queued.push(text);
        return localResult(st.command);
      }
      default: {
        const command = verb === 'commit' ? 'COMMIT' : 'ROLLBACK';
        if (!t) return localResult(command);
        this.tx = undefined;
        const pinned = t.pinned;
        if (!pinned) return localResult(command);
        let res: QueryResult<any>;
        try {
          res = await this.send(t, text);
        } catch (err) {
          // The session's state is in doubt: discard it.
          await pinned.finish(err instanceof Error ? err : new Error(String(err)));
          throw err;
        }
        await pinned.finish();
        if (res.command === 'COMMIT' && t.writes.length > 0) {
          await this.backend.committed(pinned.clusterId, t.writes, this.settings.token);
        }
        return res;
      }
    }
  }

  private async inTransaction(
    t: OpenTransaction,
    text: string,
    values: unknown[],
    shape: StatementShape | undefined,
    a: SqlTextAnalysis,
  ): Promise<QueryResult<any>> {
    const names = a.read.length > 0 || a.written.length > 0;
    if (!t.pinned) {
      if (!names && values.length === 0 && a.statements.every((s) => s.command === 'SET')) {
        // SET LOCAL / SET TRANSACTION before the first statement: sent with BEGIN.
        t.queued.push(text);
        return localResult('SET');
      }
      const plan = this.backend.plan(text, this.routeOptions(), values);
      if (plan.crossShard) throw otherShard(plan, undefined);
      await this.pin(t, plan.clusterId, plan.shardIds !== undefined ? plan.shardId : undefined, plan.schema);
    } else if (names) {
      const plan = this.planInTransaction(text, values);
      if (plan !== undefined && plan.clusterId !== t.pinned.clusterId) {
        throw new PgmError(
          'CROSS_CLUSTER_STATEMENT',
          `This transaction runs on cluster "${t.pinned.clusterId}", and this statement belongs to cluster "${plan.clusterId}"; a transaction on a pool client stays on one cluster. Use pgm.withTransaction([...schemas], fn) for an atomic change across clusters (two-phase commit). The transaction is still open: roll it back or go on.`,
          { clusterId: plan.clusterId, details: { transactionCluster: t.pinned.clusterId } },
        );
      }
      const shard = t.pinned.shardId;
      if (plan !== undefined && shard !== undefined && (plan.crossShard || plan.shardId !== shard)) {
        throw otherShard(plan, shard);
      }
    }
    const res = await this.send(t, text, values, shape);
    if (a.kind === 'write') t.writes.push({ sql: text, schema: t.schema });
    return res;
  }

  /**
   * Where a statement of a pinned transaction belongs; undefined when routing implies no cluster
   * (only unqualified tables, no pool `schema`, no default cluster): it runs on the pinned session.
   */
  private planInTransaction(text: string, values: unknown[]): QueryPlan | undefined {
    try {
      return this.backend.plan(text, this.routeOptions(), values);
    } catch (err) {
      if (err instanceof PgmError && err.code === 'UNKNOWN_SCHEMA') return undefined;
      throw err;
    }
  }

  private routeOptions(): RouteOptions {
    const d = this.settings.defaultSchema;
    return d !== undefined ? { defaultSchema: d } : {};
  }

  /** Borrow a session of the cluster's (or shard's) primary for the transaction; send BEGIN, the search_path and what waited. */
  private async pin(
    t: OpenTransaction,
    clusterId: string,
    shardId: string | undefined,
    schema: string | undefined,
  ): Promise<void> {
    const provider = this.backend.primary(clusterId, shardId);
    let giveBack!: (err?: Error) => void;
    let session!: Promise<void>;
    const conn = await new Promise<Connection>((resolve, reject) => {
      session = provider.withConnection(
        (c) =>
          new Promise<void>((res, rej) => {
            giveBack = (err) => (err ? rej(err) : res());
            resolve(c);
          }),
      );
      session.catch(reject);
    });
    t.pinned = {
      clusterId,
      shardId,
      conn,
      finish: (err) => {
        giveBack(err);
        return session.then(
          () => {},
          () => {},
        );
      },
    };
    t.schema = schema;
    const [begin, ...rest] = t.queued;
    t.queued = [];
    try {
      await this.send(t, begin!);
      if (schema !== undefined) await this.send(t, `SET LOCAL search_path TO ${searchPathFor(schema)}`);
      for (const q of rest) await this.send(t, q);
    } catch (err) {
      // Nothing of the transaction has run: give the session back (discarded) and end the transaction.
      const pinned = t.pinned;
      t.pinned = undefined;
      this.tx = undefined;
      await pinned.finish(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }

  /** One statement on the pinned session, observed like a routed one (`queryExecuted` reason `session`). */
  private send(
    t: OpenTransaction,
    text: string,
    values?: unknown[],
    shape?: StatementShape,
  ): Promise<QueryResult<any>> {
    const conn = t.pinned!.conn;
    return runWithStatementContext({ transactionId: t.id }, () =>
      conn.query<any>(text, values !== undefined && values.length > 0 ? values : undefined, shape),
    ).then(
      (res) => {
        if (res.command === 'ROLLBACK') t.failed = false;
        return res;
      },
      (err: unknown) => {
        t.failed = true;
        throw err;
      },
    );
  }

  /**
   * Return the client. An open transaction is rolled back; `release(err)` or `release(true)`
   * discards its session instead (as pg destroys the connection).
   */
  release(err?: Error | boolean): void {
    if (this.released) {
      throw new PgmError('INVALID_ARGUMENT', 'Release called on client which has already been released to the pool.');
    }
    this.released = true;
    const destroy = err instanceof Error ? err : err === true ? new Error('client released with destroy') : undefined;
    this.releasing = this.tail.then(async () => {
      const t = this.tx;
      this.tx = undefined;
      const pinned = t?.pinned;
      if (!pinned) return;
      if (destroy) return pinned.finish(destroy);
      try {
        await this.send(t!, 'ROLLBACK');
      } catch (e) {
        return pinned.finish(e instanceof Error ? e : new Error(String(e)));
      }
      return pinned.finish();
    });
    this.releasing.then(this.signalReleased, this.signalReleased);
    // pg's client says 'end' when its connection closes; this one has none of its own: once released.
    this.releasedPromise.then(() => this.emit('end'));
    this.settings.onRelease(this, err instanceof Error ? err : undefined);
  }

  /** @internal Resolves once released and its session (if any) is back. */
  whenReleased(): Promise<void> {
    return this.releasedPromise;
  }

  /** `I` idle, `T` in a transaction, `E` in a failed transaction (as pg's). */
  getTransactionStatus(): 'I' | 'T' | 'E' {
    if (!this.tx) return 'I';
    return this.tx.failed ? 'E' : 'T';
  }

  /** pg's `connection`: a routing client has none of its own. */
  get connection(): never {
    throw unsupported("client.connection (the client's socket)");
  }

  /** pg's `client.end()` on a pooled client: release it, discarding the transaction's session if one is open. */
  end(): Promise<void> {
    if (!this.released) this.release(true);
    return this.releasedPromise;
  }

  /** pg's client.connect(): a pooled client is connected already. */
  connect(): Promise<never> {
    return Promise.reject(
      new PgmError('INVALID_ARGUMENT', 'Client has already been connected (it came from pool.connect())'),
    );
  }

  escapeIdentifier(str: string): string {
    return `"${String(str).replace(/"/g, '""')}"`;
  }

  /** pg's escapeLiteral (backslashes make an E'' string). */
  escapeLiteral(str: string): string {
    let backslash = false;
    let out = "'";
    for (const ch of String(str)) {
      if (ch === "'") out += "''";
      else if (ch === '\\') {
        out += '\\\\';
        backslash = true;
      } else out += ch;
    }
    out += "'";
    return backslash ? ` E${out}` : out;
  }

  /** No-ops, as on a client without a drain handler. */
  pauseDrain(): void {}
  resumeDrain(): void {}

  copyFrom(): never {
    throw unsupported('COPY streams (pg-copy-streams)');
  }

  copyTo(): never {
    throw unsupported('COPY streams (pg-copy-streams)');
  }

  setTypeParser(): never {
    throw unsupported('client.setTypeParser (type parsers for every statement)');
  }

  getTypeParser(): never {
    throw unsupported('client.getTypeParser');
  }
}

/**
 * A statement of a pool client's transaction on a sharded cluster that concerns several shards, or
 * (`pinned`) another shard than the one the transaction runs on: one session holds one shard's
 * transaction; the statement is refused, the transaction left as it was.
 */
function otherShard(plan: QueryPlan, pinned: string | undefined): PgmError {
  const where = plan.crossShard
    ? `${plan.shardIds?.length ?? 'several'} shards (${plan.shardReason ?? 'no shard key'})`
    : `shard "${plan.shardId}"`;
  return new PgmError(
    'CROSS_SHARD_UNSUPPORTED',
    `${pinned === undefined ? 'This transaction' : `This transaction runs on shard "${pinned}" of cluster "${plan.clusterId}", and it`} would run this statement on ${where}; a transaction on a pool client stays on one session of one shard. Add a condition on the shard key naming that shard's keys, or use pgm.withTransaction([...schemas], fn), whose statements may span shards (split, merged, committed by two-phase commit). The transaction is still open: roll it back or go on.`,
    {
      clusterId: plan.clusterId,
      ...(plan.schema !== undefined ? { schema: plan.schema } : {}),
      details: {
        construct: `a statement on ${pinned === undefined ? 'several shards' : 'another shard'} in a pool client's transaction`,
        ...(pinned !== undefined ? { transactionShard: pinned } : {}),
        shardIds: [...(plan.shardIds ?? [])],
      },
    },
  );
}

function unsupported(what: string): PgmError {
  return new PgmError(
    'INVALID_ARGUMENT',
    `${what} is not available on a pgm.pool() client: it routes each statement; pass types per statement ({ text, types }) or use a pg.Client on the node`,
  );
}
