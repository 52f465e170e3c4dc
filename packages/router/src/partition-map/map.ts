import { PgmError } from '@pg-multiverse/core';

/** Where a partition came from in the move that put it on its owner (read-your-writes across the cutover). */
export interface PartitionMove {
  /** Shard that held the partition before. */
  from: string;
  /** Shard that holds it since `version`. */
  to: string;
  /** Map version that moved it. */
  version: number;
  /** The target primary's WAL position (`X/Y`) when the move was committed: every copied row is at or before it. */
  lsn?: string;
}

/**
 * The partition map of a sharded cluster: which listed shard holds each
 * partition. Immutable; a newer version replaces it as a whole.
 */
export interface PartitionMap {
  readonly clusterId: string;
  /** 1 for the map seeded from the configuration; every committed change adds 1. */
  readonly version: number;
  /** Number of hash partitions (`sharding.partitions`). */
  readonly partitions: number;
  /** `owners[p]`: the shard id holding partition `p`. */
  readonly owners: readonly string[];
  /** The last move of each partition that was moved (by partition number). */
  readonly moved: Readonly<Record<number, PartitionMove>>;
  /**
   * Partitions whose rows a shard may hold without owning them, by shard id: copies on a move's
   * target before the cutover, the moved rows left on the source until cleanup. A read that visits
   * every shard filters these out (`router.partitionFilter`).
   */
  readonly strays: Readonly<Record<string, readonly number[]>>;
  /** True when this map came from the configuration (no stored map: `partitionMap: false`, or before `start()`). */
  readonly fromConfig: boolean;
}

/** The partitions `shardId` holds in `map`, ascending. */
export function partitionsOf(map: PartitionMap, shardId: string): number[] {
  const out: number[] = [];
  map.owners.forEach((o, p) => {
    if (o === shardId) out.push(p);
  });
  return out;
}

/** The map the configuration describes (`shards[i].partitions`, default `p % shards.length`), version 1. */
export function mapFromConfig(
  clusterId: string,
  partitions: number,
  shards: ReadonlyArray<{ id: string; partitions: readonly number[] }>,
): PartitionMap {
  const owners = new Array<string>(partitions);
  for (const s of shards) for (const p of s.partitions) owners[p] = s.id;
  return Object.freeze({
    clusterId,
    version: 1,
    partitions,
    owners: Object.freeze(owners),
    moved: Object.freeze({}),
    strays: Object.freeze({}),
    fromConfig: true,
  });
}

/** True when both maps give every partition the same owner. */
export function sameOwners(a: PartitionMap, b: PartitionMap): boolean {
  return a.partitions === b.partitions && a.owners.every((o, p) => b.owners[p] === o);
}

/**
 * Check a map (stored, or about to be) against the shards the configuration lists and its number of
 * partitions: every partition owned by exactly one listed shard. Throws `PARTITION_MAP_INVALID` naming what is wrong.
 */
export function checkMap(
  map: PartitionMap,
  shardIds: readonly string[],
  what: string,
  partitions: number = map.partitions,
): void {
  const problems: string[] = [];
  if (map.partitions !== partitions) {
    problems.push(
      `it has ${map.partitions} partitions and the configuration ${partitions} (sharding.partitions cannot change while the map is stored)`,
    );
  }
  if (map.owners.length !== map.partitions) {
    problems.push(`it has ${map.owners.length} owners for ${map.partitions} partitions`);
  }
  const unknown = new Map<string, number[]>();
  map.owners.forEach((o, p) => {
    if (typeof o !== 'string') problems.push(`partition ${p} has no owner`);
    else if (!shardIds.includes(o)) unknown.set(o, [...(unknown.get(o) ?? []), p]);
  });
  for (const [id, ps] of unknown) {
    problems.push(`shard "${id}" (partitions ${ps.join(', ')}) is not listed in the configuration`);
  }
  if (problems.length > 0) {
    throw new PgmError(
      'PARTITION_MAP_INVALID',
      `${what} of cluster "${map.clusterId}" (version ${map.version}) cannot be used: ${problems.join('; ')}. Listed shards: ${shardIds.join(', ')}. Add the missing shards to sharding.shards (same ids) or fix the map.`,
      { clusterId: map.clusterId, details: { version: map.version } },
    );
  }
}

/** A copy of `map` with some fields changed (version and owners of a committed change). */
export function nextMap(
  map: PartitionMap,
  patch: Partial<Pick<PartitionMap, 'version' | 'owners' | 'moved' | 'strays'>>,
): PartitionMap {
  return Object.freeze({
    clusterId: map.clusterId,
    version: patch.version ?? map.version,
    partitions: map.partitions,
    owners: Object.freeze([...(patch.owners ?? map.owners)]),
    moved: Object.freeze({ ...(patch.moved ?? map.moved) }),
    strays: Object.freeze({ ...(patch.strays ?? map.strays) }),
    fromConfig: false,
  });
}

/** The stored row's JSON fields back into a map. */
export function mapFromRow(
  clusterId: string,
  row: { version: string | number; partitions: number; owners: string[]; moved: unknown; strays: unknown },
): PartitionMap {
  const moved: Record<number, PartitionMove> = {};
  for (const [k, v] of Object.entries((row.moved ?? {}) as Record<string, PartitionMove>)) moved[Number(k)] = v;
  const strays: Record<string, number[]> = {};
  for (const [k, v] of Object.entries((row.strays ?? {}) as Record<string, number[]>)) {
    if (Array.isArray(v) && v.length > 0) strays[k] = [...v].sort((a, b) => a - b);
  }
  return Object.freeze({
    clusterId,
    version: Number(row.version),
    partitions: row.partitions,
    owners: Object.freeze([...row.owners]),
    moved: Object.freeze(moved),
    strays: Object.freeze(strays),
    fromConfig: false,
  });
}
