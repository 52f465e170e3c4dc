import type { QueryExecutedEvent } from '@pg-multiverse/router';

/**
 * Events of `PgMultiverse`, forwarded from the router, cache, transaction and
 * migration managers. Payloads never contain passwords or query parameters.
 */
export interface PgMultiverseEvents {
  /**
   * A statement ran on a node (the router's payload: cluster, node, shard, role,
   * reason, kind, schema, durationMs and its documented alias duration, ok,
   * retried, sql, errorCode).
   */
  queryExecuted: QueryExecutedEvent;
  nodeDown: { clusterId: string; nodeId: string; reason: string; [k: string]: unknown };
  nodeUp: { clusterId: string; nodeId: string; downtime?: number; [k: string]: unknown };
  clusterDown: { clusterId: string; reason: string; [k: string]: unknown };
  clusterRecovered: { clusterId: string; downtime: number; [k: string]: unknown };
  roleChanged: { clusterId: string; nodeId: string; from: string; to: string; [k: string]: unknown };
  replicaLagging: { clusterId: string; nodeId: string; lagMs: number; lagBytes: number; [k: string]: unknown };
  readFallback: { clusterId: string; reason: string; [k: string]: unknown };
  splitBrain: { clusterId: string; nodes: string[]; [k: string]: unknown };
  cacheHit: { key: string; schema?: string; [k: string]: unknown };
  cacheMiss: { key: string; schema?: string; [k: string]: unknown };
  cacheStale: { key: string; schema?: string; [k: string]: unknown };
  cacheInvalidated: { [k: string]: unknown };
  cacheEvicted: { [k: string]: unknown };
  cacheError: { error: Error; [k: string]: unknown };
  transactionStarted: { id: string; [k: string]: unknown };
  transactionCommitted: { id: string; [k: string]: unknown };
  transactionRolledBack: { id: string; [k: string]: unknown };
  transactionRecovered: {
    gid: string;
    txid: string;
    clusterId: string;
    action: 'commit' | 'rollback';
    ageMs: number;
    [k: string]: unknown;
  };
  /** Recovery could not reach a cluster or finish a prepared transaction on it (it retries on its next run). */
  recoveryFailed: { clusterId: string; error: unknown; [k: string]: unknown };
  migrationStarted: { version: string; name: string; schema: string; cluster: string; [k: string]: unknown };
  migrationCompleted: {
    version: string;
    name: string;
    schema: string;
    cluster: string;
    duration: number;
    [k: string]: unknown;
  };
  migrationFailed: {
    version: string;
    name: string;
    schema: string;
    cluster: string;
    error: Error;
    [k: string]: unknown;
  };
  error: Error;
}
