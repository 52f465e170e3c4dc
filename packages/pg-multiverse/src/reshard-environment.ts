import { PgmError } from '@pg-multiverse/core';
import type { MigrationManager } from '@pg-multiverse/migrate';
import type { ClusterAccess, PartitionMapControl, ReshardEnvironment } from '@pg-multiverse/reshard';
import { GUARD_SETTING, type Router } from '@pg-multiverse/router';

/**
 * What the move engine (`@pg-multiverse/reshard`) works with, built from the router: each listed
 * shard's primary and connection settings, the router's partition map (holds, fence, commit,
 * strays, ownership), the journal on the map's coordinator, and the migration manager to give a
 * new shard its schema. The engine keeps no map of its own.
 */
export function reshardEnvironment(
  router: Router,
  mm: () => MigrationManager | undefined,
  inContext: <T>(fn: () => Promise<T>) => Promise<T>,
): ReshardEnvironment {
  return {
    secrets: router.config.secrets,
    cluster(clusterId: string): ClusterAccess {
      const c = router.config.clusters[clusterId];
      if (!c) {
        throw new PgmError(
          'UNKNOWN_CLUSTER',
          `Unknown cluster "${clusterId}"; known: ${Object.keys(router.config.clusters).join(', ')}`,
          { clusterId },
        );
      }
      const s = c.sharding;
      if (!s || s.shards.length === 0) {
        throw new PgmError(
          'MOVE_REFUSED',
          `Cluster "${clusterId}" is not sharded over listed servers (sharding.shards): there is nothing to move between`,
          { clusterId },
        );
      }
      const map: PartitionMapControl = {
        async read() {
          const m = await router.reloadPartitionMap(clusterId);
          return { version: m.version, owners: m.owners, strays: m.strays };
        },
        async hold(partitions, o) {
          const h = await router.holdPartitions({
            clusterId,
            partitions,
            timeoutMs: o.timeoutMs,
            maxQueued: o.maxQueued,
          });
          return {
            get signal() {
              return h.signal;
            },
            get queued() {
              return h.queued;
            },
            get maxQueuedSeen() {
              return h.maxQueuedSeen;
            },
            fence: () => h.fence(),
            commit: async (owners) => ({ version: (await h.commit(owners)).version }),
            release: () => h.release(),
          };
        },
        async updateStrays(shard, change) {
          await router.updatePartitionStrays(clusterId, shard, change);
        },
        async syncOwnership() {
          await router.syncPartitionOwnership(clusterId);
        },
        guardBypass: { name: GUARD_SETTING, value: 'off' },
      };
      return {
        id: clusterId,
        schemas: c.schemas,
        key: s.key,
        partitions: s.partitions,
        ...(s.keyType ? { keyType: s.keyType } : {}),
        customShardFunction: typeof s.shardFunction === 'function',
        shards: s.shards.map((shard) => ({
          id: shard.id,
          primary: router.shardPrimary(clusterId, shard.id),
          connection: shard.primary.connection,
        })),
        // The journal lives on the cluster's first listed shard (documented; any durable home would do).
        journal: router.shardPrimary(clusterId, s.shards[0]!.id),
        map,
        prepareTarget: (target, source) => inContext(() => prepareTarget(mm(), clusterId, target, source)),
      };
    },
  };
}

/**
 * The target shard gets the schema of the source: the migrations the source's history lists are
 * run (the manager applies them where they are missing: on the new shard). Without migrations
 * enabled the target must have the tables already (the engine compares them either way).
 */
async function prepareTarget(
  mm: MigrationManager | undefined,
  clusterId: string,
  target: string,
  source: string,
): Promise<void> {
  if (!mm) return;
  const status = await mm.getStatus({ targetClusters: [clusterId] });
  const on = (shard: string) => status.targets.filter((t) => t.shard === shard);
  const src = on(source);
  const unknown = src.flatMap((t) => t.unknownVersions.map((v) => `${t.schema}@${v}`));
  if (unknown.length > 0) {
    throw new PgmError(
      'MOVE_REFUSED',
      `Cannot give ${target} the schema of ${source}: the source's history lists migrations that are not in the migrations folder (${unknown.join(', ')})`,
      { clusterId },
    );
  }
  const order = mm.getMigrations().map((m) => m.version);
  const missing = () => {
    const have = new Map(on(target).map((t) => [t.schema, new Set(t.appliedVersions)]));
    return src.flatMap((t) => t.appliedVersions.filter((v) => !have.get(t.schema)?.has(v)).map((v) => ({ v, t })));
  };
  const before = missing();
  if (before.length === 0) return;
  const last = before.map((m) => m.v).sort((a, b) => order.indexOf(a) - order.indexOf(b))[before.length - 1]!;
  await mm.migrate({ targetClusters: [clusterId], targetVersion: last });
  const after = (await mm.getStatus({ targetClusters: [clusterId] })).targets;
  const have = new Map(after.filter((t) => t.shard === target).map((t) => [t.schema, new Set(t.appliedVersions)]));
  const still = src.flatMap((t) =>
    t.appliedVersions.filter((v) => !have.get(t.schema)?.has(v)).map((v) => `${t.schema}@${v}`),
  );
  if (still.length > 0) {
    throw new PgmError(
      'MOVE_REFUSED',
      `Cannot give ${target} the schema of ${source}: migrations ${still.join(', ')} are applied on the source but could not be applied on the target`,
      { clusterId },
    );
  }
}
