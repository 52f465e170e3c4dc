import type { ConsistencyLevel, ReadPreference } from '@pg-multiverse/core';
import { PgmError } from '@pg-multiverse/core';
import { isHealthy } from './health-report.js';
import type { ClusterRuntime, GroupRuntime, NodeRuntime } from './topology.js';
import type { RouteReason } from './types.js';

export interface ReadRequest {
  role?: 'primary' | 'replica';
  consistency: ConsistencyLevel;
  readPreference: ReadPreference;
  maxLagMs: number;
  /** Session: the caller's last write position on this group. */
  sessionLsn?: bigint;
  /** Node that just failed (retry). */
  exclude?: NodeRuntime;
  fallbackToPrimary: boolean;
}

export interface ReadChoice {
  node: NodeRuntime;
  reason: RouteReason;
  /** Session read on a replica whose cached replay position is older than the token: check on the session first. */
  requireLsn?: bigint;
  /** Set when every replica was unusable and the primary took the read. */
  fallback?: string;
}

/** Throws when the group cannot take writes. */
export function writablePrimary(g: GroupRuntime): NodeRuntime {
  if (g.splitBrain) {
    throw new PgmError(
      'SPLIT_BRAIN',
      `Cluster "${g.clusterId}"${g.shardId ? ` shard ${g.shardId}` : ''} has more than one primary (${g.splitBrain.join(', ')}); writes are refused until one of them is demoted`,
      { clusterId: g.clusterId, details: { primaries: g.splitBrain } },
    );
  }
  if (g.primary.down) {
    throw new PgmError(
      'NO_AVAILABLE_NODE',
      `The primary of cluster "${g.clusterId}" (${g.primary.id}) is down: ${g.primary.lastError ?? 'unreachable'}`,
      { clusterId: g.clusterId, nodeId: g.primary.id },
    );
  }
  return g.primary;
}

function usable(n: NodeRuntime, g: GroupRuntime, exclude: NodeRuntime | undefined): boolean {
  return n !== exclude && isHealthy(n) && (n.state.role === 'replica' || n === g.primary);
}

function pick(c: ClusterRuntime, cands: NodeRuntime[]): NodeRuntime | undefined {
  if (cands.length <= 1) return cands[0];
  const states = cands.map((n) => n.state);
  const picked = c.balancer.pick(states, { clusterId: c.id });
  const i = picked ? states.indexOf(picked) : -1;
  return i >= 0 ? cands[i] : cands[0];
}

/**
 * Why a read must run on the primary, if it must: `role: 'primary'`, `strong`,
 * or read preference `primary` (unless `role: 'replica'` overrides the last
 * two). The node choice and the freshness rule (planner) both ask this.
 */
export function primaryOnly(r: ReadRequest): 'role-primary' | 'strong' | 'read-preference-primary' | undefined {
  if (r.role === 'primary') return 'role-primary';
  if (r.role === 'replica') return undefined;
  if (r.consistency === 'strong') return 'strong';
  if (r.readPreference === 'primary') return 'read-preference-primary';
  return undefined;
}

/**
 * The read node for a request: forced/strong/primary-preference reads go to
 * the primary; otherwise the balancer picks among healthy replicas (plus the
 * primary for `any`) that satisfy the consistency level, and the primary
 * serves when none does.
 */
export function chooseRead(c: ClusterRuntime, g: GroupRuntime, r: ReadRequest): ReadChoice | undefined {
  const primaryOk = g.primary !== r.exclude;
  const only = primaryOnly(r);
  if (only) return primaryOk ? { node: g.primary, reason: only } : undefined;
  const withPrimary = r.readPreference === 'any' && r.role !== 'replica' && !g.splitBrain;
  let cands: NodeRuntime[] = [];
  let anyReplicaUsable = false;
  for (const n of g.nodes) {
    if (!usable(n, g, r.exclude)) continue;
    if (n === g.primary) {
      if (withPrimary) cands.push(n);
    } else {
      anyReplicaUsable = true;
      cands.push(n);
    }
  }
  let reason: RouteReason = r.role === 'replica' ? 'role-replica' : 'balanced';
  let requireLsn: bigint | undefined;
  let emptyReason: RouteReason = 'fallback-primary';
  if (r.consistency === 'bounded') {
    cands = cands.filter((n) => n === g.primary || (n.lagKnown && n.state.lagMs <= r.maxLagMs));
    emptyReason = 'bounded-primary';
  } else if (r.consistency === 'session' && r.sessionLsn !== undefined) {
    const need = r.sessionLsn;
    const ready = cands.filter((n) => n === g.primary || (n.lsn !== undefined && n.lsn >= need));
    emptyReason = 'session-primary';
    if (ready.length > 0) {
      cands = ready;
      reason = 'session-caught-up';
    } else {
      requireLsn = need;
    }
  }
  const pickedNode = pick(c, cands);
  if (pickedNode) {
    if (pickedNode === g.primary) return { node: pickedNode, reason };
    return requireLsn === undefined
      ? { node: pickedNode, reason }
      : { node: pickedNode, reason: 'session-caught-up', requireLsn };
  }
  if (!primaryOk) return undefined;
  if (!anyReplicaUsable && g.nodes.length > 1 && emptyReason === 'fallback-primary') {
    if (!r.fallbackToPrimary) {
      throw new PgmError(
        'NO_AVAILABLE_NODE',
        `No replica of cluster "${c.id}" is available and fallbackToPrimary is off`,
        {
          clusterId: c.id,
        },
      );
    }
    return { node: g.primary, reason: 'fallback-primary', fallback: 'every replica is down' };
  }
  return { node: g.primary, reason: emptyReason };
}
