import { formatLsn } from './lsn.js';
import type { ClusterRuntime, NodeRuntime } from './topology.js';
import type { ClusterHealth, NodeSnapshot } from './types.js';

/**
 * The one meaning of "healthy" for a node: it takes traffic now (not marked
 * down, and not suspect after a connection failure on the query path). Used
 * by `nodeStates()`, `healthCheck()` and the node choice alike.
 */
export function isHealthy(n: NodeRuntime): boolean {
  return n.state.healthy && !n.down;
}

/** A node for metrics (`router.nodeStates()`). */
export function snapshotNode(n: NodeRuntime): NodeSnapshot {
  return {
    clusterId: n.clusterId,
    nodeId: n.id,
    ...(n.shardId ? { shardId: n.shardId } : {}),
    role: n.state.role,
    configuredRole: n.configuredRole,
    healthy: isHealthy(n),
    healthScore: n.state.healthScore,
    inFlight: n.state.inFlight,
    ewmaLatencyMs: n.state.ewmaLatencyMs,
    lagBytes: n.state.lagBytes,
    lagMs: n.state.lagMs,
    ...(n.lsn !== undefined ? { lsn: formatLsn(n.lsn) } : {}),
    failureCount: n.consecutiveFailures,
    queries: n.queries,
    errors: n.errors,
    totalTimeMs: n.totalTimeMs,
    pool: n.provider.stats(),
  };
}

/** One cluster for `router.healthCheck()` (after a probe of every node). */
export function clusterHealth(c: ClusterRuntime): ClusterHealth {
  const nodes: ClusterHealth['nodes'] = {};
  let failures = 0;
  let error: string | undefined;
  for (const g of c.groups) {
    for (const n of g.nodes) {
      failures += n.consecutiveFailures;
      nodes[n.id] = {
        healthy: isHealthy(n),
        role: n.state.role,
        responseTime: Math.round(n.responseTime * 100) / 100,
        // Unknown (absent) for a node that is unreachable, down, or whose position is not known: never a stale 0.
        ...(isHealthy(n) && n.lagKnown ? { lagBytes: n.state.lagBytes, lagMs: n.state.lagMs } : {}),
        ...(n.lastError ? { error: n.lastError } : {}),
        failureCount: n.consecutiveFailures,
      };
    }
    if (g.splitBrain) error ??= `more than one primary: ${g.splitBrain.join(', ')}`;
    else if (!isHealthy(g.primary)) error ??= `primary ${g.primary.id}: ${g.primary.lastError ?? 'unreachable'}`;
  }
  const primaryTimes = c.groups.map((g) => g.primary.responseTime);
  return {
    healthy: error === undefined,
    responseTime: Math.round(Math.max(...primaryTimes) * 100) / 100,
    ...(error ? { error } : {}),
    failureCount: failures,
    nodes,
  };
}
