import { PgmError } from '@pg-multiverse/core';
import { hashShard, type ShardKey } from './hash-shard.js';
import type { ClusterRuntime, GroupRuntime } from './topology.js';

export interface ShardChoice {
  partition: number;
  group: GroupRuntime;
}

/**
 * The group (shard servers) holding `partition` of a sharded cluster: partition `p` lives on
 * `shards[p % shards.length]`. THE one place that maps partitions to groups: every caller
 * (key-routed statements, split writes, COPY) goes through it.
 */
export function groupOfPartition(c: ClusterRuntime, partition: number): GroupRuntime {
  return c.groups[partition % c.groups.length]!;
}

/**
 * Partition of `shardKey` on a sharded cluster (PostgreSQL-compatible hash
 * unless a custom `shardFunction` is configured). `what` names the key in the
 * error when there is none (default: the `shardKey` option).
 */
export function partitionOf(c: ClusterRuntime, shardKey: unknown, what?: string): number {
  const s = c.cfg.sharding!;
  if (shardKey === undefined || shardKey === null) {
    throw new PgmError(
      'SHARD_KEY_REQUIRED',
      what ??
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
  return partition;
}

/** Partition of `shardKey` on a sharded cluster, and the group holding it (`groupOfPartition`). */
export function chooseShard(c: ClusterRuntime, shardKey: unknown): ShardChoice {
  if (!c.cfg.sharding) return { partition: 0, group: c.groups[0]! };
  const partition = partitionOf(c, shardKey);
  return { partition, group: groupOfPartition(c, partition) };
}
