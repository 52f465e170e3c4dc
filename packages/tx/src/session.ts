import { analyzeSql, type Connection, type ConnectionProvider, type QueryResult } from '@pg-multiverse/core';

/**
 * One participant's dedicated connection, held across the callback. The
 * ConnectionProvider contract only lends a connection for the duration of a
 * function, so that function waits on a gate that `release()` opens.
 * Work is serialized: concurrent `tx.query` calls on one cluster run one
 * after another, each together with its own search_path change.
 */
export interface Session {
  readonly clusterId: string;
  readonly provider: ConnectionProvider;
  /** Backend pid, for cancelling a running statement on timeout. */
  pid: number | undefined;
  searchPath: string | undefined;
  /** A statement failed and no savepoint rollback cleared it: the transaction is aborted here. */
  aborted: boolean;
  /**
   * Some statement may have written (core's SQL analysis does not prove every one a read). A
   * participant without it is asked at commit whether it wrote (`pg_current_xact_id_if_assigned()`).
   */
  mayHaveWritten: boolean;
  /** The connection itself broke; it is destroyed on release. */
  broken: boolean;
  /** Statements running right now. */
  busy: number;
  /**
   * What opens the transaction, not sent yet: `BEGIN ...`, then a SELECT whose first column is
   * the backend pid (`pid`) and which sets the first search_path, then the savepoints of a late
   * joiner. It travels with the first statement (`runFirst`, in `use(fn, false, true)`), or, for
   * any other work, is sent on its own first.
   */
  prelude: string[] | undefined;
  /** Run `fn` with the connection once earlier work is done. After `seal()`, only `internal` work runs. */
  use<T>(fn: (c: Connection) => Promise<T>, internal?: boolean, first?: boolean): Promise<T>;
  /**
   * The participant's first statement: with the prelude in one round trip when the connection
   * can pipeline (`Connection.queryAfter`), else the prelude, then the statement.
   */
  runFirst<R>(c: Connection, sql: string, params: readonly unknown[] | undefined): Promise<QueryResult<R>>;
  /** Refuse further application statements (the transaction is finishing). */
  seal(): void;
  /** Give the connection back (destroyed when `destroy` or broken). Resolves once the provider released it. */
  release(destroy?: boolean): Promise<void>;
}

export class SessionSealedError extends Error {}

export async function openSession(provider: ConnectionProvider, clusterId: string): Promise<Session> {
  let openGate!: () => void;
  let failGate!: (err: Error) => void;
  const gate = new Promise<void>((resolve, reject) => {
    openGate = resolve;
    failGate = reject;
  });
  let lentConn: Connection | undefined;
  let finished: Promise<void> = Promise.resolve();
  const conn = await new Promise<Connection>((resolve, reject) => {
    const done = provider.withConnection(async (c) => {
      lentConn = c;
      resolve(c);
      await gate;
    });
    // Settles when the provider has taken the connection back.
    finished = done.then(
      () => undefined,
      (err) => {
        if (!lentConn) reject(err);
      },
    );
  });

  let chain: Promise<unknown> = Promise.resolve();
  let sealed = false;
  let released = false;
  const takePrelude = () => {
    const p = session.prelude;
    session.prelude = undefined;
    return p;
  };
  const flushPrelude = async (c: Connection) => {
    const p = takePrelude();
    if (!p) return;
    const res: unknown = await c.query(p.join('; '));
    for (const r of (Array.isArray(res) ? res : [res]) as { rows?: { pid?: unknown }[] }[]) {
      const pid = r.rows?.[0]?.pid;
      if (pid !== undefined) session.pid = Number(pid);
    }
  };
  const session: Session = {
    clusterId,
    provider,
    pid: undefined,
    searchPath: undefined,
    aborted: false,
    mayHaveWritten: false,
    broken: false,
    busy: 0,
    prelude: undefined,
    use<T>(fn: (c: Connection) => Promise<T>, internal = false, first = false): Promise<T> {
      const next = chain.then(async () => {
        if (released || (sealed && !internal)) throw new SessionSealedError('transaction is finishing');
        session.busy++;
        try {
          if (!first) await flushPrelude(conn);
          return await fn(conn);
        } finally {
          session.busy--;
        }
      });
      chain = next.catch(() => undefined);
      return next;
    },
    async runFirst<R>(c: Connection, sql: string, params: readonly unknown[] | undefined) {
      const p = takePrelude();
      // One pipeline (extended protocol) when the connection can: a text of one statement, with or
      // without parameters. Several statements in one text need the simple protocol: prelude first.
      if (p && c.queryAfter && !analyzeSql(sql).multiStatement) {
        const out = await c.queryAfter<R>(p, sql, params);
        const pid = out.prelude[1]?.[0];
        if (pid !== undefined && pid !== null) session.pid = Number(pid);
        return out.result;
      }
      if (p) {
        session.prelude = p;
        await flushPrelude(c);
      }
      return c.query<R>(sql, params);
    },
    seal() {
      sealed = true;
    },
    async release(destroy = false) {
      if (released) return;
      // Let queued work drain first, so the connection is idle when it goes back.
      await chain;
      released = true;
      if (destroy || session.broken) failGate(new Error('pg-multiverse tx: connection discarded'));
      else openGate();
      await finished;
    },
  };
  return session;
}

/** Errors that mean the connection (not just the statement) is gone. */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') return true;
  if (['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTCONN'].includes(code)) return true;
  const msg = typeof e?.message === 'string' ? e.message : '';
  return /Connection terminated|Client has encountered a connection error|not queryable|connection ended/i.test(msg);
}
