import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { type NormalizedCluster, PgmError, quoteIdent, quoteLiteral } from '@pg-multiverse/core';
import type { Router } from '@pg-multiverse/router';
import type { Transaction } from '@pg-multiverse/tx';
import { from as copyFromStdin } from 'pg-copy-streams';
import { type CopyFormat, CopyRowSplitter } from './copy-rows.js';

/** Options of `pgm.copyFrom(table, columns, stream, options)`. */
export interface CopyFromOptions {
  /** Schema of the table (required): decides the cluster and is put first on the search_path. */
  schema: string;
  /** `text` (PostgreSQL's default) or `csv`. Default `text`. */
  format?: 'text' | 'csv';
  /** Column delimiter, one single-byte character. Default tab (text) or `,` (csv). */
  delimiter?: string;
  /** The string that means NULL. Default `\N` (text) or an unquoted empty field (csv). */
  null?: string;
  /** CSV quote character. Default `"`. */
  quote?: string;
  /** CSV escape character inside quotes. Default: the quote character. */
  escape?: string;
  /** CSV: the first line is a header, skipped. Default false. */
  header?: boolean;
}

/** What `copyFrom` loaded. */
export interface CopyFromResult {
  clusterId: string;
  /** Rows loaded in all. */
  rowCount: number;
  /**
   * Rows per shard id (`shard-0`, ...) on a cluster sharded over listed servers; on any other
   * cluster one entry under the cluster id. Shards that got no row are listed with 0.
   */
  shards: Record<string, number>;
}

/** Data for `copyFrom`: a Node.js readable stream, any async iterable of chunks, or an array of chunks. */
export type CopyInput = AsyncIterable<Buffer | Uint8Array | string> | ReadonlyArray<Buffer | Uint8Array | string>;

const BATCH_BYTES = 64 * 1024;
const OPTION_KEYS = new Set(['schema', 'format', 'delimiter', 'null', 'quote', 'escape', 'header']);

interface Target {
  id: string;
  /** Participant option for tx (a listed shard), or none (the cluster itself). */
  shard: string | undefined;
  stream: Promise<NodeJS.WritableStream & { rowCount: number; destroy(err?: Error): void }> | undefined;
  done: Promise<number> | undefined;
  batch: Buffer[];
  bytes: number;
  rows: number;
}

/** Checked options with defaults. */
export function copyFormatOf(o: CopyFromOptions): CopyFormat {
  if (!o || typeof o !== 'object')
    throw new PgmError('INVALID_ARGUMENT', 'copyFrom(table, columns, stream, { schema }): options are required');
  for (const k of Object.keys(o)) {
    if (!OPTION_KEYS.has(k)) {
      throw new PgmError('INVALID_ARGUMENT', `copyFrom: unknown option "${k}" (known: ${[...OPTION_KEYS].join(', ')})`);
    }
  }
  const format = o.format ?? 'text';
  if (format !== 'text' && format !== 'csv') {
    throw new PgmError('INVALID_ARGUMENT', `copyFrom: format is 'text' or 'csv', got ${JSON.stringify(format)}`);
  }
  const csv = format === 'csv';
  if (!csv && (o.quote !== undefined || o.escape !== undefined || o.header !== undefined)) {
    throw new PgmError(
      'INVALID_ARGUMENT',
      "copyFrom: quote, escape and header are CSV options; pass { format: 'csv' }",
    );
  }
  const quote = o.quote ?? '"';
  return {
    format,
    delimiter: o.delimiter ?? (csv ? ',' : '\t'),
    null: o.null ?? (csv ? '' : '\\N'),
    quote,
    escape: o.escape ?? quote,
    header: o.header === true,
  };
}

/** `COPY "table" ("a", "b") FROM STDIN WITH (...)`: the header is never sent to the servers. */
function copySql(table: string, columns: readonly string[], f: CopyFormat): string {
  const opts = [`FORMAT ${f.format}`, `DELIMITER ${quoteLiteral(f.delimiter)}`, `NULL ${quoteLiteral(f.null)}`];
  if (f.format === 'csv') opts.push(`QUOTE ${quoteLiteral(f.quote)}`, `ESCAPE ${quoteLiteral(f.escape)}`);
  return `COPY ${quoteIdent(table)} (${columns.map((c) => quoteIdent(c)).join(', ')}) FROM STDIN WITH (${opts.join(', ')})`;
}

export interface CopyContext {
  router: Router;
  cluster: NormalizedCluster;
  /** Runs `fn` in one transaction on the schema's cluster (two-phase commit when several shards take part). */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
}

/**
 * Stream `input` into `table`: on a cluster sharded over listed servers every row goes to the
 * shard its key column names (`router.shardFor`), to all shards in parallel, in one transaction
 * committed by two-phase commit when more than one shard took rows; a failure anywhere leaves
 * every shard unchanged.
 */
export async function copyFrom(
  ctx: CopyContext,
  table: string,
  columns: readonly string[],
  input: CopyInput,
  options: CopyFromOptions,
): Promise<CopyFromResult> {
  const fmt = copyFormatOf(options);
  if (typeof table !== 'string' || table === '') {
    throw new PgmError(
      'INVALID_ARGUMENT',
      'copyFrom(table, ...): table is the table name (its schema goes in { schema })',
    );
  }
  if (!Array.isArray(columns) || columns.length === 0 || columns.some((c) => typeof c !== 'string' || c === '')) {
    throw new PgmError(
      'INVALID_ARGUMENT',
      'copyFrom(table, columns, ...): columns is a non-empty array of column names',
    );
  }
  if (new Set(columns).size !== columns.length) {
    throw new PgmError('INVALID_ARGUMENT', `copyFrom: columns repeat a name (${columns.join(', ')})`);
  }
  if (
    input === null ||
    typeof input !== 'object' ||
    (!Array.isArray(input) && typeof (input as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function')
  ) {
    throw new PgmError(
      'INVALID_ARGUMENT',
      'copyFrom(table, columns, stream): stream is a readable stream, an async iterable or an array of Buffer/string chunks',
    );
  }
  const c = ctx.cluster;
  const listed = c.sharding?.shards ?? [];
  const sharded = listed.length > 1;
  let keyIndex = -1;
  if (sharded) {
    const s = c.sharding!;
    keyIndex = columns.indexOf(s.key);
    if (keyIndex < 0) {
      throw new PgmError(
        'SHARD_KEY_REQUIRED',
        `copyFrom: cluster "${c.id}" is sharded by "${s.key}"; the columns (${columns.join(', ')}) must include it so each row can be sent to its shard`,
        { clusterId: c.id },
      );
    }
    if (s.keyType === undefined && s.shardFunction === undefined) {
      throw new PgmError(
        'INVALID_ARGUMENT',
        `copyFrom: cluster "${c.id}" has no sharding.keyType; COPY data is text, so the key's type (int4, int8, text, uuid) must be configured to hash it as PostgreSQL does`,
        { clusterId: c.id },
      );
    }
  }
  const sql = copySql(table, columns, fmt);
  const targets = new Map<string, Target>();
  const all: Target[] = sharded
    ? listed.map((s) => ({ id: s.id, shard: s.id, stream: undefined, done: undefined, batch: [], bytes: 0, rows: 0 }))
    : [{ id: c.id, shard: undefined, stream: undefined, done: undefined, batch: [], bytes: 0, rows: 0 }];
  for (const t of all) targets.set(t.id, t);

  return ctx.transaction(async (tx) => {
    let failure: unknown;
    let failSignal!: (err: unknown) => void;
    const failed = new Promise<never>((_, reject) => {
      failSignal = reject;
    });
    failed.catch(() => undefined);
    const fail = (err: unknown) => {
      if (failure === undefined) {
        failure = err;
        failSignal(err);
      }
    };

    const open = (t: Target) => {
      let gotStream!: (s: NonNullable<Awaited<Target['stream']>>) => void;
      t.stream = new Promise((resolve) => {
        gotStream = resolve;
      });
      t.done = tx.withConnection(
        async (conn) => {
          if (typeof conn.submit !== 'function') {
            throw new PgmError(
              'FEATURE_DISABLED',
              `copyFrom: the connections of "${c.id}" cannot stream COPY (their ConnectionProvider's sessions have no submit(); poolProvider's do)`,
              { clusterId: c.id },
            );
          }
          const s = conn.submit(copyFromStdin(sql));
          gotStream(s);
          await finished(s);
          return s.rowCount;
        },
        { schema: options.schema, ...(t.shard !== undefined ? { shard: t.shard } : {}) },
      );
      t.done.catch(fail);
    };

    const flush = async (t: Target) => {
      if (t.bytes === 0) return;
      if (!t.stream) open(t);
      const chunk = t.batch.length === 1 ? t.batch[0]! : Buffer.concat(t.batch, t.bytes);
      t.batch = [];
      t.bytes = 0;
      const s = await Promise.race([t.stream!, failed]);
      if (!s.write(chunk)) await Promise.race([once(s as unknown as NodeJS.EventEmitter, 'drain'), failed]);
    };

    const full: Target[] = [];
    const splitter = new CopyRowSplitter(fmt, Math.max(keyIndex, 0));
    const onRow = (row: Buffer, key: string | null) => {
      let t: Target;
      if (sharded) {
        // A NULL key is partition 0, as PostgreSQL's hash partitioning places it (router.shardFor).
        t = targets.get(ctx.router.shardFor(c.id, key).shardId!)!;
      } else t = all[0]!;
      t.batch.push(row);
      t.bytes += row.length;
      t.rows++;
      if (t.bytes >= BATCH_BYTES) full.push(t);
    };

    try {
      for await (const chunk of input) {
        if (failure !== undefined) break;
        splitter.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk as Uint8Array), onRow);
        while (full.length > 0) await flush(full.pop()!);
      }
      if (failure === undefined) {
        splitter.end(onRow);
        for (const t of all) await flush(t);
        for (const t of all) if (t.stream) (await Promise.race([t.stream, failed])).end();
        await Promise.race([Promise.all(all.map((t) => t.done ?? 0)), failed]);
      }
    } catch (err) {
      fail(err);
    }
    if (failure !== undefined) {
      // CopyFail on every shard still copying, then wait until each session is idle: the
      // transaction's rollback follows on them.
      for (const t of all) if (t.stream) void t.stream.then((s) => s.destroy(new Error('copyFrom aborted')));
      await Promise.allSettled(all.map((t) => t.done ?? 0));
      throw failure;
    }
    const shards: Record<string, number> = {};
    let rowCount = 0;
    for (const t of all) {
      const n = t.done ? await t.done : 0;
      if (n !== t.rows) {
        throw new PgmError(
          'QUERY_FAILED',
          `copyFrom: ${t.id} reported ${n} rows loaded, ${t.rows} were sent; rolled back`,
          { clusterId: c.id },
        );
      }
      shards[t.id] = n;
      rowCount += n;
    }
    return { clusterId: c.id, rowCount, shards };
  });
}
