import type { ProxyMode, TcpProxy } from './tcp-proxy.js';

/** How a client reaches a node; structurally a `NodeConnectionConfig` of `@pg-multiverse/core`. */
export interface NodeConnection {
  id: string;
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
}

/** One cluster of `topo.config`; structurally a `ClusterConfig` of `@pg-multiverse/core`. */
export interface TopologyClusterConfig {
  schemas: string[];
  primary: NodeConnection;
  replicas: NodeConnection[];
}

/** Cluster id -> cluster; structurally a `ClusterConfiguration` of `@pg-multiverse/core`. */
export type TopologyConfig = Record<string, TopologyClusterConfig>;

export type NodeRole = 'primary' | 'replica';

export interface StopNodeOptions {
  /** `fast` (default): clean shutdown, sessions ended. `immediate`: no checkpoint, crash recovery on start. */
  mode?: 'smart' | 'fast' | 'immediate';
}

export interface QueryResultLite<R> {
  rows: R[];
  rowCount: number | null;
}

/** A PostgreSQL server of a topology, with a loopback proxy in front of it. */
export interface NodeHandle {
  /** `primary`, `replica-1`, `replica-2`, ... (unique within its cluster). */
  readonly id: string;
  readonly clusterId: string;
  /** `clusterId/id`. */
  readonly key: string;
  /** Role it was started with; becomes `primary` after `promote()`. */
  readonly role: NodeRole;
  readonly host: string;
  /** Port of the proxy: what clients (and `topo.config`) use. */
  readonly port: number;
  /** Port the server itself listens on (replication and `query()` use it). */
  readonly serverPort: number;
  readonly dataDir: string;
  readonly logFile: string;
  /** PID of the postmaster while running, else undefined. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Connection settings through the proxy. */
  readonly connection: NodeConnection;
  readonly proxy: TcpProxy;
  /** Admin query straight to the server (superuser, not via the proxy). */
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResultLite<R>>;
  stop(opts?: StopNodeOptions): Promise<void>;
  /** Starts a stopped or killed node (waits until it accepts connections). */
  start(): Promise<void>;
  /** SIGKILL the postmaster (a crash). */
  kill(): Promise<void>;
  /** Replicas: stop replaying WAL (it is still received), so lag grows. */
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  /** Replicas: promote to primary and wait until it is out of recovery. */
  promote(): Promise<void>;
  /** Replicas: wait until replay reached the primary's current WAL position. Primaries: no-op. */
  waitForCatchUp(opts?: { timeoutMs?: number }): Promise<void>;
  /** Replicas: bytes of WAL the primary has written that this node has not replayed. Primaries: 0. */
  lagBytes(): Promise<number>;
  isInRecovery(): Promise<boolean>;
}

export type { ProxyMode, TcpProxy };
