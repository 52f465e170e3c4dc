import type { QueryResult } from '@pg-multiverse/core';
import type { Plan } from '../planner.js';
import { RoutedQueryResult } from '../routed-result.js';
import type { RoutedResult } from '../types.js';
import { createCrossShardReader } from './read.js';

/**
 * Runs one shard's statement of a cross-shard read on a connection the caller holds (a transaction's
 * participant on that shard): `shardId` is the listed shard, `sql` and `values` what it runs.
 */
export type ShardStatementRunner = (
  shardId: string,
  sql: string,
  values: readonly unknown[] | undefined,
) => Promise<QueryResult>;

/**
 * `router.crossShardRead`: the cross-shard reader of `read.ts` (rewrite, stray filter, merge,
 * refusals) with `run` in place of the executor. The caller's connections choose no node and retry
 * nothing, and the caller observes its own statements: this reports no event.
 */
export async function readOnShards<R>(
  plan: Plan,
  params: readonly unknown[] | undefined,
  run: ShardStatementRunner,
  strayFilter: (clusterId: string, shardId: string) => string | undefined,
): Promise<QueryResult<R>> {
  const read = createCrossShardReader({
    execute: async <T>(p: Plan, values: readonly unknown[] | undefined): Promise<RoutedResult<T>> => {
      const t0 = performance.now();
      const res = (await run(p.g.shardId!, p.sql, values)) as QueryResult<T>;
      return new RoutedQueryResult<T>(res, {
        clusterId: p.clusterId,
        nodeId: p.g.primary.id,
        shardId: p.g.shardId!,
        role: 'primary',
        reason: 'session',
        kind: 'read',
        durationMs: performance.now() - t0,
        retried: false,
      }) as unknown as RoutedResult<T>;
    },
    emitExecuted: () => {},
    strayFilter,
  });
  const merged = await read<R>(plan, params);
  // Plain pg result fields: the route of a merge over someone else's connections says nothing useful.
  return { command: merged.command, rowCount: merged.rowCount, oid: null, rows: merged.rows, fields: merged.fields };
}
