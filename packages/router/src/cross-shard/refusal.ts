import { PgmError } from '@pg-multiverse/core';
import type { Plan } from '../planner.js';

/**
 * `CROSS_SHARD_UNSUPPORTED`: the statement concerns several shards and uses
 * `construct`, which cannot be run across shards correctly. The message names
 * the construct, why the statement is cross-shard, and what to do.
 */
export function crossShardRefusal(p: Plan, construct: string, why?: string): PgmError {
  const key = p.cluster.cfg.sharding?.key ?? 'the shard key';
  const shards = p.shardIds ? `${p.shardIds.length} shards` : 'several shards';
  return new PgmError(
    'CROSS_SHARD_UNSUPPORTED',
    `Cross-shard statement on cluster "${p.clusterId}" (${shards}; ${p.shardReason ?? 'no shard key'}): ${construct} cannot be ${p.kind === 'read' ? 'merged' : 'run'} across shards correctly${why ? ` (${why})` : ''}. Pass { shardKey } to run it on one shard, or add a condition "${key} = ..." so it concerns one shard`,
    { clusterId: p.clusterId, ...(p.schema !== undefined ? { schema: p.schema } : {}), details: { construct } },
  );
}

/**
 * A write on several shards through `router.execute`/`router.query`: the router alone has no
 * atomic commit across servers, and never commits shard by shard silently.
 */
export function crossShardWriteRefusal(p: Plan): PgmError {
  return new PgmError(
    'CROSS_SHARD_UNSUPPORTED',
    `Write on ${p.shardIds?.length ?? 'several'} shards of cluster "${p.clusterId}" (${p.shardReason ?? 'no shard key'}): the router runs a statement on one shard; run it through PgMultiverse.query() (atomic by two-phase commit), or run router.shardWrites(plan, params) in your own transaction, or pass { shardKey }`,
    {
      clusterId: p.clusterId,
      ...(p.schema !== undefined ? { schema: p.schema } : {}),
      details: { construct: 'a write' },
    },
  );
}
