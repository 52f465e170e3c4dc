import type { NormalizedConfiguration, NormalizedNode } from '@pg-multiverse/core';

/** Where a node is, as spans and metrics name it: never a user or password. */
export interface NodeAddress {
  clusterId: string;
  nodeId: string;
  shardId?: string;
  /** Host name or address (`server.address`). */
  address: string;
  /** TCP port (`server.port`). */
  port: number;
  /** Database name (`db.namespace` is `database.schema`). */
  database: string;
  /** The pool's `max` (pool saturation = in use / max). */
  poolMax: number;
}

/** `clusterId/nodeId` -> address, for every node of every cluster and listed shard. */
export function nodeAddresses(config: NormalizedConfiguration): Map<string, NodeAddress> {
  const out = new Map<string, NodeAddress>();
  for (const cluster of Object.values(config.clusters)) {
    const nodes: NormalizedNode[] = [cluster.primary, ...cluster.replicas];
    for (const shard of cluster.sharding?.shards ?? []) nodes.push(shard.primary, ...shard.replicas);
    for (const node of nodes) out.set(`${cluster.id}/${node.id}`, addressOf(cluster.id, node));
  }
  return out;
}

function addressOf(clusterId: string, node: NormalizedNode): NodeAddress {
  const c = node.connection;
  let host = c.host;
  let port = c.port;
  let database = c.database;
  if (c.connectionString && (host === undefined || port === undefined || database === undefined)) {
    try {
      // Only host, port and path are read: the URL's credentials never leave this function.
      const url = new URL(c.connectionString);
      host ??= decodeURIComponent(url.hostname) || undefined;
      port ??= url.port ? Number(url.port) : undefined;
      database ??= decodeURIComponent(url.pathname.replace(/^\//, '')) || undefined;
    } catch {
      /* not a URL (validated elsewhere): defaults below */
    }
  }
  const a: NodeAddress = {
    clusterId,
    nodeId: node.id,
    address: host ?? 'localhost',
    port: port ?? 5432,
    // pg's default database is the user's name.
    database: database ?? c.user ?? 'postgres',
    poolMax: node.pool.max ?? 10,
  };
  if (node.shardId !== undefined) a.shardId = node.shardId;
  return a;
}
