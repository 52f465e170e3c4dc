import { locationOf, PgmError, type QueryResult } from '@pg-multiverse/core';
import type { ShardWrite } from '@pg-multiverse/router';
import type { Transaction } from '@pg-multiverse/tx';

/** Where a cross-shard write runs and how it commits. */
export interface ShardWriteContext {
  /** Runs `fn` in one transaction on the schema's cluster (the facade's, with its follow-up). */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  clusterId: string;
  schema: string;
  /** One transaction over every shard (two-phase commit when several), else one transaction per shard. */
  atomic: boolean;
}

/**
 * Run the per-shard statements of one write (the router's `shardWrites`): with `atomic`, in one
 * transaction whose participants are the shards (`{ shard }` of `@pg-multiverse/tx`), committed by
 * two-phase commit when more than one shard is written, so a failure on any shard leaves every shard
 * unchanged; without, each shard in its own transaction at once (a failure names the shards that
 * committed). Resolves to each statement's result, in order.
 */
export async function runShardWrites(ctx: ShardWriteContext, writes: readonly ShardWrite[]): Promise<QueryResult[]> {
  const { schema } = ctx;
  const one = (tx: Transaction, w: ShardWrite) => tx.query(w.sql, w.params, { schema, shard: w.shardId });
  if (ctx.atomic || writes.length === 1) {
    return ctx.transaction((tx) => Promise.all(writes.map((w) => one(tx, w))));
  }
  const settled = await Promise.allSettled(writes.map((w) => ctx.transaction((tx) => one(tx, w))));
  const failed = settled.flatMap((r, i) => (r.status === 'rejected' ? [{ w: writes[i]!, err: r.reason }] : []));
  if (failed.length === 0) return settled.map((r) => (r as PromiseFulfilledResult<QueryResult>).value);
  const committed = writes.filter((_, i) => settled[i]!.status === 'fulfilled').map((w) => w.shardId);
  const first = failed[0]!;
  throw new PgmError(
    (first.err as PgmError)?.code ?? 'QUERY_FAILED',
    `write with { atomic: false } failed on ${failed.map((f) => locationOf({ cluster: ctx.clusterId, shard: f.w.shardId })).join(', ')}` +
      `${committed.length > 0 ? `; it committed on ${committed.join(', ')}` : '; no shard committed'}: ${(first.err as Error)?.message ?? String(first.err)}`,
    {
      cause: first.err,
      clusterId: ctx.clusterId,
      details: { committedShards: committed, failedShards: failed.map((f) => f.w.shardId) },
    },
  );
}

/**
 * One result for the whole write, as if from one database: `rowCount` summed, `RETURNING` rows
 * concatenated. A split INSERT whose shards each returned one row per inserted row gets its rows
 * back in the order of the original VALUES list.
 */
export function mergeWriteResults<T>(writes: readonly ShardWrite[], results: readonly QueryResult[]): QueryResult<T> {
  const first = results[0]!;
  let rowCount = 0;
  let counted = false;
  for (const r of results) {
    if (typeof r.rowCount === 'number') {
      rowCount += r.rowCount;
      counted = true;
    }
  }
  let rows: unknown[];
  const total = writes.reduce((n, w) => n + (w.rows?.length ?? 0), 0);
  const inOrder = writes.every((w, i) => w.rows !== undefined && results[i]!.rows.length === w.rows.length);
  if (inOrder && total > 0) {
    rows = new Array(total);
    writes.forEach((w, i) => {
      w.rows!.forEach((at, k) => {
        rows[at] = results[i]!.rows[k];
      });
    });
  } else rows = results.flatMap((r) => r.rows);
  return {
    command: first.command,
    rowCount: counted ? rowCount : null,
    rows: rows as T[],
    fields: first.fields,
  } as QueryResult<T>;
}
