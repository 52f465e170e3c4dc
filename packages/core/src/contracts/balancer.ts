/** Role of a node as last observed by the health monitor. */
export type NodeRole = 'primary' | 'replica';

/**
 * What a balancer sees of a node. The router owns and mutates these objects
 * (no allocation per query); balancers must treat them as read-only.
 */
export interface NodeState {
  /** Node id, unique in its cluster (e.g. `replica-1`). */
  readonly id: string;
  /** Cluster id. */
  readonly clusterId: string;
  role: NodeRole;
  /** Relative weight (>= 0). Default 1. */
  weight: number;
  /** Queries currently running on this node through this process. */
  inFlight: number;
  /** Exponentially weighted moving average of query latency, ms. 0 until measured. */
  ewmaLatencyMs: number;
  /** Monotonic time (ms, `performance.now()`) of the last latency sample, 0 if none. */
  lastSampleAt: number;
  /** 0 (dead) .. 100 (perfect), maintained by the health monitor. */
  healthScore: number;
  /** True while the monitor considers the node usable. */
  healthy: boolean;
  /** Replication lag in bytes (replicas), 0 for the primary or unknown. */
  lagBytes: number;
  /** Replication lag in ms (replicas), 0 for the primary or unknown. */
  lagMs: number;
}

/** Context of one pick. */
export interface PickContext {
  /** Cluster the pick is for (balancers keep state per cluster or per instance). */
  clusterId?: string;
  /** `performance.now()` at pick time, if the caller has it (saves a clock read). */
  now?: number;
}

/**
 * Picks one node out of the healthy candidates. Pure and synchronous: no I/O,
 * no promises, ideally no allocation.
 *
 * @example
 * const first: Balancer = { name: 'first', pick: (c) => c[0] };
 */
export interface Balancer {
  /** Strategy name, for metrics and logs. */
  readonly name: string;
  /** Choose one of `candidates`, or `undefined` when there are none. */
  pick(candidates: readonly NodeState[], ctx?: PickContext): NodeState | undefined;
  /** Optional: called after a query on `node` finished (latency in ms, ok or not). */
  observe?(node: NodeState, latencyMs: number, ok: boolean): void;
}
