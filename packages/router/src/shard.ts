import { PgmError } from '@pg-multiverse/core';
import { hashShard, type ShardKey } from './hash-shard.js';
import type { ClusterRuntime, GroupRuntime } from './topology.js';

export interface ShardChoice {
  partition: number;
  group: GroupRuntime;
}

/**
 * Partition of `shardKey` on a sharded cluster (PostgreSQL-compatible hash
 * unless a custom `shardFunction` is configured), and the group holding it:
 * the owner the cluster's partition map in force names (`c.owners`, see
 * partition-map/; by default the configuration's `p % shards.length`).
 * The one place the router looks a partition's group up.
 */
export function chooseShard(c: ClusterRuntime, shardKey: unknown): ShardChoice {
  const s = c.cfg.sharding;
  if (!s) return { partition: 0, group: c.groups[0]! };
  if (shardKey === undefined || shardKey === null) {
    throw new PgmError(
      'SHARD_KEY_REQUIRED',
      `Cluster "${c.id}" is sharded by "${s.key}" (${s.partitions} partitions): pass { shardKey } to pick the shard; cross-shard queries are not routed automatically`,
      { clusterId: c.id },
    );
  }
  const partition = s.shardFunction
    ? s.shardFunction(shardKey, s.partitions)
    : s.keyType
      ? hashShard(shardKey as ShardKey, s.partitions, s.keyType)
      : hashShard(shardKey as ShardKey, s.partitions);
  if (!Number.isInteger(partition) || partition < 0 || partition >= s.partitions) {
    throw new PgmError(
      'INVALID_ARGUMENT',
      `Shard function of cluster "${c.id}" returned ${String(partition)}; expected an integer in [0, ${s.partitions})`,
      { clusterId: c.id },
    );
  }
  return { partition, group: c.owners ? c.owners[partition]! : c.groups[0]! };
}
