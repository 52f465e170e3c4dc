import { locationOf } from '@pg-multiverse/core';
import type { Router } from '@pg-multiverse/router';
import type { StatementRoute, StatementRouteRequest } from '@pg-multiverse/tx';
import { mergeWriteResults } from './shard-write.js';

/**
 * Where a `tx.query` statement runs on a cluster sharded over listed servers (the transaction
 * manager's `routeStatement`): the router's plan, as `query()` routes it (the key found in the SQL,
 * or the `shardKey` option, which wins), so a transaction needs no `shardKey` either. One shard: that
 * shard's participant. Several shards (or no key): a write is split as `query()` splits it
 * (`router.shardWrites`: a multi-row INSERT by its rows' keys, UPDATE/DELETE/DDL on every shard),
 * each part on its shard's participant, and the two-phase commit of the transaction makes it atomic;
 * a read runs on each shard's participant and is merged by the router (`router.crossShardRead`).
 * The plan's refusals (`SHARD_KEY_UPDATE`, `CROSS_SHARD_UNSUPPORTED`, ...) are thrown before anything
 * runs. Other clusters: `undefined` (the cluster is the participant).
 */
export function transactionRoute(
  router: Router,
  sharded: ReadonlySet<string>,
  r: StatementRouteRequest,
): StatementRoute | undefined {
  if (!sharded.has(r.clusterId)) return undefined;
  const participant = (shardId: string) => locationOf({ cluster: r.clusterId, shard: shardId });
  // `shardKey: null` keeps its meaning in a transaction: partition 0, where PostgreSQL places a NULL key.
  if (r.shardKey === null) return { participant: participant(router.shardFor(r.clusterId, null).shardId!) };
  const plan = router.plan(
    r.sql,
    r.shardKey !== undefined ? { schema: r.schema, shardKey: r.shardKey } : { schema: r.schema },
    r.params,
  );
  if (!plan.crossShard) return { participant: participant(plan.shardId!) };
  if (plan.kind === 'write') {
    const writes = router.shardWrites(plan, r.params);
    return {
      run: async (on) =>
        mergeWriteResults(writes, await Promise.all(writes.map((w) => on(participant(w.shardId), w.sql, w.params)))),
    };
  }
  return {
    run: (on) => router.crossShardRead(plan, r.params, (shardId, sql, values) => on(participant(shardId), sql, values)),
  };
}
