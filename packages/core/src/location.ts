import type { NormalizedConfiguration } from './validate-config.js';

/**
 * Where statements run: a cluster id, or `cluster[shard]` for one listed shard of
 * a cluster sharded over several servers. Migration targets and transaction
 * participants are named this way.
 *
 * @example
 * locationOf({ cluster: 'orders' }); // 'orders'
 * locationOf({ cluster: 'orders', shard: 'shard-1' }); // 'orders[shard-1]'
 */
export function locationOf(t: { cluster: string; shard?: string | undefined }): string {
  return t.shard === undefined ? t.cluster : `${t.cluster}[${t.shard}]`;
}

/** Shard ids by cluster id, for the clusters sharded over listed servers (`sharding.shards`) only. */
export function listedShards(config: NormalizedConfiguration): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const c of Object.values(config.clusters)) {
    const shards = c.sharding?.shards ?? [];
    if (shards.length > 0) out[c.id] = shards.map((s) => s.id);
  }
  return out;
}
