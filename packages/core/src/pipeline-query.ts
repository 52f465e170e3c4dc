import type { PipelinedResult, QueryResult } from './contracts/connection-provider.js';

/** The parts of pg's protocol connection a pipeline writes to (pg's `Connection`). */
interface ProtocolConnection {
  parse(config: { text: string; name?: string; types?: unknown[] }): void;
  bind(config: { portal?: string; statement?: string; values?: unknown[] }): void;
  execute(config: { portal?: string; rows?: number }): void;
  stream: { cork?: () => void; uncork?: () => void };
}

/** pg's `Query`, as `pg.Client.Query` exposes it (the class behind `client.query(text, values)`). */
interface PgQuery {
  submit(connection: ProtocolConnection): Error | null;
  handleRowDescription(msg: unknown): void;
  handleDataRow(msg: unknown): void;
  handleCommandComplete(msg: unknown, connection: ProtocolConnection): void;
  handleEmptyQuery(connection: ProtocolConnection): void;
  handleError(err: unknown, connection: ProtocolConnection): void;
  handleReadyForQuery(connection: ProtocolConnection): void;
  handlePortalSuspended(connection: ProtocolConnection): void;
  handleCopyInResponse(connection: ProtocolConnection): void;
  handleCopyData(msg: unknown, connection: ProtocolConnection): void;
  binary?: boolean;
  _result?: { _types?: unknown };
}
type PgQueryClass = new (
  config: { text: string; values?: readonly unknown[]; queryMode?: 'extended' },
  values: undefined,
  callback: (err: Error | null, res: unknown) => void,
) => PgQuery;

/** A pg client that can carry a pipeline: not in pg's own pipeline mode (which refuses custom queries). */
interface PipelineClient {
  query(submittable: object): unknown;
  pipeline?: boolean;
  binary?: boolean;
  _types?: unknown;
}

function queryClassOf(client: object): PgQueryClass | undefined {
  const c = client as PipelineClient;
  if (c.pipeline === true) return undefined;
  const Q = (client.constructor as { Query?: unknown } | undefined)?.Query;
  const proto = typeof Q === 'function' ? (Q as { prototype?: Partial<PgQuery> }).prototype : undefined;
  return proto && typeof proto.submit === 'function' && typeof proto.handleDataRow === 'function'
    ? (Q as PgQueryClass)
    : undefined;
}

/** True when `client` is a `pg.Client` that `pipelineQuery` can use. */
export function canPipeline(client: object): boolean {
  return queryClassOf(client) !== undefined;
}

/**
 * `prelude` (parameterless statements) and then `text` with `values` on a pg client in one
 * round trip. With `values`: Parse/Bind/Execute per prelude statement, then pg's own Query for
 * `text` in extended mode, which ends with the one Sync. Without (undefined or empty): one
 * simple-protocol message, the prelude and `text` joined by `;`, so `text` may hold several
 * statements (a migration file), and its result is what pg gives for it alone (one result, an
 * array of them, or the empty result of a text without statements). Either way PostgreSQL skips
 * everything after a failing statement, so a failed prelude statement keeps `text` from running.
 * Only the extension point pg documents for custom queries (`client.query(submittable)`, as
 * pg-cursor uses it) and pg's Query class are used. Call only when `canPipeline(client)`.
 */
export function pipelineQuery<R>(
  client: object,
  prelude: readonly string[],
  text: string,
  values: readonly unknown[] | undefined,
): Promise<PipelinedResult<R>> {
  const Q = queryClassOf(client)!;
  const c = client as PipelineClient;
  const simple = values === undefined || values.length === 0;
  return new Promise((resolve, reject) => {
    const rows: (string | null)[][] = prelude.map(() => []);
    let done = 0; // prelude statements completed
    const composite = {
      // pg wraps this (query_timeout); the inner query reports through it.
      callback: (err: Error | null, res: unknown) => {
        if (err) reject(err);
        else resolve({ result: res as QueryResult<R>, prelude: rows });
      },
      submit(connection: ProtocolConnection) {
        // One Query message: pg's own Query sends it; the prelude's results are taken out below.
        if (simple) return inner.submit(connection);
        connection.stream.cork?.();
        try {
          for (const sql of prelude) {
            connection.parse({ text: sql, name: '', types: [] });
            connection.bind({ portal: '', statement: '', values: [] });
            connection.execute({ portal: '', rows: 0 });
          }
          return inner.submit(connection);
        } finally {
          connection.stream.uncork?.();
        }
      },
      handleRowDescription: (msg: unknown) => {
        if (done >= prelude.length) inner.handleRowDescription(msg);
      },
      handleDataRow: (msg: { fields: (string | null)[] }) => {
        if (done < prelude.length) {
          if (rows[done]!.length === 0) rows[done] = [...msg.fields];
          return;
        }
        inner.handleDataRow(msg);
      },
      handleCommandComplete: (msg: unknown, con: ProtocolConnection) => {
        if (done < prelude.length) done++;
        else inner.handleCommandComplete(msg, con);
      },
      handleEmptyQuery: (con: ProtocolConnection) => {
        if (done < prelude.length) done++;
        else inner.handleEmptyQuery(con);
      },
      handleError: (err: unknown, con: ProtocolConnection) => inner.handleError(err, con),
      handleReadyForQuery: (con: ProtocolConnection) => inner.handleReadyForQuery(con),
      handlePortalSuspended: (con: ProtocolConnection) => inner.handlePortalSuspended(con),
      handleCopyInResponse: (con: ProtocolConnection) => inner.handleCopyInResponse(con),
      handleCopyData: (msg: unknown, con: ProtocolConnection) => inner.handleCopyData(msg, con),
    };
    const inner = simple
      ? new Q({ text: prelude.length > 0 ? `${prelude.join('; ')}; ${text}` : text }, undefined, (err, res) =>
          composite.callback(err, res),
        )
      : new Q({ text, values, queryMode: 'extended' }, undefined, (err, res) => composite.callback(err, res));
    // What pg's client.query does for its own queries: the client's type parsers, binary mode.
    if (inner._result && inner._result._types === undefined && c._types !== undefined) inner._result._types = c._types;
    if (c.binary) inner.binary = true;
    c.query(composite);
  });
}
