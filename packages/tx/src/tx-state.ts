import {
  analyzeSql,
  type Connection,
  type ConnectionProvider,
  isPgmError,
  locationOf,
  PgmError,
  type QueryResult,
  quoteIdent,
  quoteLiteral,
  searchPathFor,
} from '@pg-multiverse/core';
import { beginSql } from './begin-sql.js';
import { causeText } from './cause-text.js';
import { isConnectionError, openSession, type Session, SessionSealedError } from './session.js';
import type {
  StatementRecord,
  StatementRoute,
  StatementRouteRequest,
  Transaction,
  TransactionOptions,
  TxQueryOptions,
} from './types.js';

/** Everything one running transaction knows. */
export interface TxState {
  id: string;
  schemas: readonly string[];
  schemaCluster: Map<string, string>;
  options: TransactionOptions;
  /** Participants by cluster, as they open (BEGIN sent on first use). */
  sessions: Map<string, Promise<Session>>;
  opened: Session[];
  savepoints: string[];
  statements: StatementRecord[];
  phase: 'active' | 'finishing' | 'done';
  timedOut: boolean;
  /** The commit decision is durable: never roll back from here on. */
  decided: boolean;
  /** gids PREPARE TRANSACTION was sent for, by cluster. */
  attempted: Map<string, string>;
}

export function newTxState(id: string, schemaCluster: Map<string, string>, options: TransactionOptions): TxState {
  return {
    id,
    schemas: [...schemaCluster.keys()],
    schemaCluster,
    options,
    sessions: new Map(),
    opened: [],
    savepoints: [],
    statements: [],
    phase: 'active',
    timedOut: false,
    decided: false,
    attempted: new Map(),
  };
}

export function timeoutError(state: TxState, cause?: unknown): PgmError {
  return new PgmError(
    'TRANSACTION_TIMEOUT',
    `Transaction ${state.id} exceeded its timeout of ${state.options.timeoutMs} ms and was rolled back`,
    { cause, details: { id: state.id, timeoutMs: state.options.timeoutMs } },
  );
}

function finishedError(state: TxState): PgmError {
  if (state.timedOut) return timeoutError(state);
  return new PgmError('TRANSACTION_FAILED', `Transaction ${state.id} is already finishing; no more statements`, {
    details: { id: state.id },
  });
}

/** Wait for participants still opening; the ones that opened. Throws the first opening failure when `strict`. */
export async function settledSessions(state: TxState, strict: boolean): Promise<Session[]> {
  const results = await Promise.allSettled([...state.sessions.values()]);
  if (strict) {
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }
  return state.opened;
}

function getSession(
  state: TxState,
  primary: (clusterId: string) => ConnectionProvider,
  clusterId: string,
  schema: string,
): Promise<Session> {
  let pending = state.sessions.get(clusterId);
  if (pending) return pending;
  pending = (async () => {
    let session: Session;
    try {
      session = await openSession(primary(clusterId), clusterId);
    } catch (err) {
      // A sharded cluster named without a shard key: the router's own error says what to pass.
      if (isPgmError(err, 'SHARD_KEY_REQUIRED')) throw err;
      throw new PgmError(
        'CONNECTION_FAILED',
        `tx: could not get a connection to the primary of "${clusterId}": ${causeText(err)}`,
        { cause: err, clusterId },
      );
    }
    // Not sent yet: BEGIN, the first search_path (and the backend pid, for cancelling on timeout) and,
    // for a participant that joins after a savepoint, that savepoint (its state then was: nothing
    // done) go with the participant's first statement, in one round trip (see Session.prelude).
    const path = searchPathFor(schema);
    session.prelude = [
      beginSql(state.options),
      `SELECT pg_backend_pid() AS pid, set_config('search_path', ${quoteLiteral(path)}, true) AS search_path`,
      ...state.savepoints.map((sp) => `SAVEPOINT ${quoteIdent(sp)}`),
    ];
    session.searchPath = path;
    state.opened.push(session);
    return session;
  })();
  pending.catch(() => undefined);
  state.sessions.set(clusterId, pending);
  return pending;
}

/** How the handle reaches participants (see `TransactionManagerOptions`). */
export interface Participants {
  primary: (participantId: string) => ConnectionProvider;
  participantOf?: ((clusterId: string, shardKey: unknown) => string) | undefined;
  /** Where a `tx.query` statement runs, from its SQL (see `TransactionManagerOptions.routeStatement`). */
  routeStatement?: ((request: StatementRouteRequest) => StatementRoute | undefined) | undefined;
  maxParticipants?: number | undefined;
  /** Every participant id (to check a `{ shard }` option). */
  participants?: (() => string[]) | undefined;
}

/** The object the callback receives. */
export function createTxHandle(state: TxState, participants: Participants): Transaction {
  const { primary, participantOf, routeStatement, maxParticipants, participants: knownParticipants } = participants;
  const active = () => {
    if (state.phase !== 'active') throw finishedError(state);
  };
  const everywhere = async (sql: string, after?: (s: Session) => void) => {
    const sessions = await settledSessions(state, false);
    await Promise.all(
      sessions.map(async (s) => {
        try {
          await s.use((c) => c.query(sql));
          after?.(s);
        } catch (err) {
          if (err instanceof SessionSealedError) throw finishedError(state);
          if (isConnectionError(err)) s.broken = true;
          s.aborted = true;
          throw new PgmError('QUERY_FAILED', `tx: "${sql}" failed on "${s.clusterId}": ${(err as Error).message}`, {
            cause: err,
            clusterId: s.clusterId,
          });
        }
      }),
    );
  };
  const checkName = (name: unknown): string => {
    if (typeof name !== 'string' || name.length === 0 || name.length > 63) {
      throw new PgmError('INVALID_ARGUMENT', `tx: savepoint names are 1-63 characters, got ${JSON.stringify(name)}`);
    }
    return name;
  };
  let spCounter = 0;

  /** The schema and cluster a statement with `options` concerns. */
  const target = (options: TxQueryOptions | undefined) => {
    active();
    const schema = options?.schema ?? (state.schemas.length === 1 ? state.schemas[0] : undefined);
    if (schema === undefined) {
      throw new PgmError(
        'INVALID_ARGUMENT',
        `tx.query needs { schema } when the transaction spans several schemas (one of: ${state.schemas.join(', ')})`,
      );
    }
    const clusterId = state.schemaCluster.get(schema);
    if (clusterId === undefined) {
      throw new PgmError(
        'INVALID_ARGUMENT',
        `tx.query: schema "${schema}" is not part of this transaction; declare it in withTransaction([...]) (declared: ${state.schemas.join(', ')})`,
        { schema },
      );
    }
    if (options?.shard !== undefined && options.shardKey !== undefined) {
      throw new PgmError('INVALID_ARGUMENT', 'tx.query: pass { shardKey } or { shard }, not both', { schema });
    }
    return { schema, clusterId };
  };
  /** The participant of `options` (`shard`, `shardKey` or the cluster itself). */
  const participantFor = (schema: string, clusterId: string, options: TxQueryOptions | undefined): string => {
    if (options?.shard !== undefined) {
      if (typeof options.shard !== 'string' || options.shard === '') {
        throw new PgmError('INVALID_ARGUMENT', 'tx.query: { shard } is a listed shard id, e.g. "shard-1"', { schema });
      }
      const participant = locationOf({ cluster: clusterId, shard: options.shard });
      if (knownParticipants && !knownParticipants().includes(participant)) {
        throw new PgmError(
          'INVALID_ARGUMENT',
          `tx.query: cluster "${clusterId}" has no listed shard "${options.shard}" (participants: ${knownParticipants().join(', ')})`,
          { schema, clusterId },
        );
      }
      return participant;
    }
    if (options?.shardKey !== undefined) {
      if (!participantOf) {
        throw new PgmError(
          'INVALID_ARGUMENT',
          'tx.query: a shardKey needs a transaction manager created with participantOf (the facade passes one)',
          { schema },
        );
      }
      return participantOf(clusterId, options.shardKey);
    }
    return clusterId;
  };
  /** The participant's session, opened (BEGIN sent with its first statement) on first use. */
  const join = (schema: string, clusterId: string, participant: string): Promise<Session> => {
    active();
    if (maxParticipants !== undefined && !state.sessions.has(participant) && state.sessions.size >= maxParticipants) {
      throw new PgmError(
        'FEATURE_DISABLED',
        `tx.query on "${participant}" would make this transaction span ${state.sessions.size + 1} participants (${[...state.sessions.keys(), participant].join(', ')}); at most ${maxParticipants} allowed, as cross-cluster transactions are turned off (enableTransactions: false)`,
        { schema, clusterId },
      );
    }
    return getSession(state, primary, participant, schema);
  };
  /** The participant a statement with `options` runs on, opened (BEGIN) on first use. */
  const enter = async (options: TxQueryOptions | undefined) => {
    const { schema, clusterId } = target(options);
    const participant = participantFor(schema, clusterId, options);
    const session = await join(schema, clusterId, participant);
    return { schema, clusterId, participant, session };
  };
  /** Run `fn` on the session with the schema's search_path in force. */
  const onPath = <T>(session: Session, schema: string, fn: (c: Connection) => Promise<T>): Promise<T> => {
    const path = searchPathFor(schema);
    return session.use(async (c) => {
      if (session.searchPath !== path) {
        await c.query("SELECT set_config('search_path', $1, true)", [path]);
        session.searchPath = path;
      }
      return fn(c);
    });
  };
  const statementFailed = (
    err: unknown,
    session: Session,
    schema: string,
    clusterId: string,
    participant: string,
  ): Error => {
    if (err instanceof SessionSealedError) return finishedError(state);
    session.aborted = true;
    if (isConnectionError(err)) session.broken = true;
    if (state.timedOut) return timeoutError(state, err);
    return new PgmError(
      'QUERY_FAILED',
      `tx.query on schema "${schema}" (${participant === clusterId ? `cluster ${clusterId}` : participant}) failed: ${(err as Error).message}`,
      { cause: err, clusterId, schema },
    );
  };

  /** One statement on one participant: recorded, BEGIN and search_path sent with it when it is the first. */
  const runOn = async <R>(
    schema: string,
    clusterId: string,
    participant: string,
    sql: string,
    params: readonly unknown[] | undefined,
  ): Promise<QueryResult<R>> => {
    const session = await join(schema, clusterId, participant);
    state.statements.push({ clusterId, ...(participant !== clusterId ? { participant } : {}), schema, sql });
    const path = searchPathFor(schema);
    if (!session.mayHaveWritten && analyzeSql(sql).kind !== 'read') session.mayHaveWritten = true;
    try {
      return await session.use(
        async (c) => {
          if (session.prelude) return session.runFirst<R>(c, sql, params);
          if (session.searchPath !== path) {
            await c.query("SELECT set_config('search_path', $1, true)", [path]);
            session.searchPath = path;
          }
          return c.query<R>(sql, params);
        },
        false,
        // With a timeout, the pid must be known while the first statement runs (to cancel it):
        // the prelude then goes first, on its own.
        state.options.timeoutMs === undefined,
      );
    } catch (err) {
      throw statementFailed(err, session, schema, clusterId, participant);
    }
  };

  return {
    id: state.id,
    schemas: state.schemas,
    clusters: () => state.opened.map((s) => s.clusterId),
    async query<R>(sql: string, params?: readonly unknown[], options?: TxQueryOptions): Promise<QueryResult<R>> {
      const { schema, clusterId } = target(options);
      // The statement's own shard(s) (its SQL's key, or its shardKey), unless it names its shard.
      const route =
        routeStatement !== undefined && options?.shard === undefined
          ? routeStatement({ clusterId, schema, sql, params, shardKey: options?.shardKey })
          : undefined;
      if (route !== undefined && 'run' in route) {
        // One statement over several participants: each part runs (and is recorded) on its own.
        return (await route.run((participant, text, values) =>
          runOn(schema, clusterId, participant, text, values),
        )) as QueryResult<R>;
      }
      const participant = route !== undefined ? route.participant : participantFor(schema, clusterId, options);
      return runOn<R>(schema, clusterId, participant, sql, params);
    },
    async withConnection<T>(fn: (c: Connection) => Promise<T>, options?: TxQueryOptions): Promise<T> {
      if (typeof fn !== 'function')
        throw new PgmError('INVALID_ARGUMENT', 'tx.withConnection(fn): fn must be a function');
      const { schema, clusterId, participant, session } = await enter(options);
      // Work of its own (COPY, ...) may write: the participant is prepared without asking.
      session.mayHaveWritten = true;
      try {
        return await onPath(session, schema, fn);
      } catch (err) {
        throw statementFailed(err, session, schema, clusterId, participant);
      }
    },
    async savepoint(name?: string) {
      active();
      const sp = checkName(name ?? `pgm_sp_${++spCounter}`);
      state.savepoints.push(sp);
      await everywhere(`SAVEPOINT ${quoteIdent(sp)}`);
      return sp;
    },
    async rollbackToSavepoint(name: string) {
      active();
      const i = state.savepoints.lastIndexOf(checkName(name));
      if (i < 0) throw new PgmError('INVALID_ARGUMENT', `tx: no savepoint named "${name}"`);
      state.savepoints.length = i + 1;
      await everywhere(`ROLLBACK TO SAVEPOINT ${quoteIdent(name)}`, (s) => {
        s.aborted = false;
        // SET LOCAL values made after the savepoint are undone too.
        s.searchPath = undefined;
      });
    },
    async releaseSavepoint(name: string) {
      active();
      const i = state.savepoints.lastIndexOf(checkName(name));
      if (i < 0) throw new PgmError('INVALID_ARGUMENT', `tx: no savepoint named "${name}"`);
      state.savepoints.length = i;
      await everywhere(`RELEASE SAVEPOINT ${quoteIdent(name)}`);
    },
  };
}

/** Cancel statements running for this transaction (timeout). */
export function cancelRunning(state: TxState): void {
  for (const s of state.opened) {
    if (s.busy > 0 && s.pid !== undefined) {
      s.provider.query('SELECT pg_cancel_backend($1)', [s.pid]).catch(() => undefined);
    }
  }
}
