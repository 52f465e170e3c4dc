import type { NodeInfo } from './topology.js';
import type { TopologyConfig } from './types.js';

/**
 * What the root vitest global setup provides as `inject('pgmTopology')`:
 * one shared topology per run. Do not inject faults into it; use your own
 * schema names (`withSchemas` + `uniqueName`).
 */
export interface PgmTopologyContext {
  /** users_cluster (2 replicas; users, auth, profiles) and commerce_cluster (0 replicas; products, orders, payments). */
  config: TopologyConfig;
  /** `redis://127.0.0.1:<port>` of a throwaway redis-server (or REDIS_URL). */
  redisUrl: string;
  /** Per cluster: the primary and replicas with host, proxy port, server port, data dir, pid. */
  clusters: Record<string, { primary: NodeInfo; replicas: NodeInfo[] }>;
  /** The password-protected role (scram-sha-256) present on every node. */
  passwordRole: { user: string; password: string };
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgmTopology: PgmTopologyContext;
  }
}
