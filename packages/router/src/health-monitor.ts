import type { ClusterMonitorOptions } from '@pg-multiverse/core';
import { redactSecrets } from '@pg-multiverse/core';
import { createProber, type ProbeResult } from './probe.js';
import type { ClusterRuntime, GroupRuntime, NodeRuntime } from './topology.js';
import type { RouterEvents } from './types.js';

export interface MonitorSettings {
  interval: number;
  timeout: number;
  attempts: number;
  maxFailures: number;
  lagWarningMs: number;
  fallbackToPrimary: boolean;
}

export function monitorSettings(o: ClusterMonitorOptions = {}): MonitorSettings {
  return {
    interval: o.healthCheckInterval ?? 30_000,
    timeout: o.healthCheckTimeout ?? 5_000,
    attempts: o.retryAttempts ?? 3,
    maxFailures: Math.max(1, o.maxFailuresBeforeMarkDown ?? 3),
    lagWarningMs: o.lagWarningMs ?? 5_000,
    fallbackToPrimary: o.fallbackToPrimary ?? true,
  };
}

type Emit = <K extends keyof RouterEvents>(event: K, ...args: RouterEvents[K]) => void;

export interface HealthMonitor {
  /** Probe every node once (first round), then keep probing on the interval. */
  start(): Promise<void>;
  /** Probe a group now (coalesced with a round in flight). */
  kick(group: GroupRuntime): void;
  /** Probe every node now and wait for the results. */
  probeAll(): Promise<void>;
  stop(): void;
}

/**
 * Background health, lag and role monitor. One probe round per group (a
 * cluster or a shard: one primary with its replicas) at a time, so probes of
 * a node never overlap; every probe is bounded by the timeout. Down nodes are
 * probed with exponential backoff (up to 4 intervals).
 */
export function createHealthMonitor(
  clusters: () => Iterable<ClusterRuntime>,
  s: MonitorSettings,
  emit: Emit,
  secrets: readonly string[],
): HealthMonitor {
  const running = new Map<GroupRuntime, Promise<void>>();
  const kicked = new Set<GroupRuntime>();
  const timers = new Map<GroupRuntime, NodeJS.Timeout>();
  let stopped = true;
  let closed = false;

  function groups(): GroupRuntime[] {
    const out: GroupRuntime[] = [];
    for (const c of clusters()) out.push(...c.groups);
    return out;
  }
  function clusterOf(g: GroupRuntime): ClusterRuntime | undefined {
    for (const c of clusters()) if (c.id === g.clusterId) return c;
    return undefined;
  }

  function schedule(g: GroupRuntime, delay: number): void {
    if (stopped) return;
    clearTimeout(timers.get(g));
    const t = setTimeout(() => {
      timers.delete(g);
      void round(g);
    }, delay);
    t.unref();
    timers.set(g, t);
  }

  function round(g: GroupRuntime, force = false): Promise<void> {
    if (closed) return Promise.resolve();
    const inFlight = running.get(g);
    if (inFlight) {
      kicked.add(g);
      return inFlight;
    }
    const p = (async () => {
      const now = performance.now();
      const due = g.nodes.filter((n) => force || !n.down || now >= n.nextProbeAt);
      const results = await Promise.all(due.map((n) => probeNode(n)));
      for (let i = 0; i < due.length; i++) applyProbe(due[i]!, results[i]!);
      evaluateRoles(g);
      evaluateLag(g);
      const c = clusterOf(g);
      if (c) evaluateCluster(c);
    })()
      .catch(() => undefined)
      .finally(() => {
        running.delete(g);
        const again = kicked.delete(g);
        schedule(g, again ? 10 : s.interval);
      });
    running.set(g, p);
    return p;
  }

  async function probeNode(n: NodeRuntime): Promise<ProbeResult> {
    n.prober ??= createProber(n.pgConfig, s.timeout, s.attempts);
    return n.prober.probe();
  }

  function applyProbe(n: NodeRuntime, r: ProbeResult): void {
    n.responseTime = r.responseTime;
    if (r.ok) {
      n.reachable = true;
      n.consecutiveFailures = 0;
      n.backoffSteps = 0;
      delete n.lastError;
      if (r.lsn !== undefined) n.lsn = r.lsn;
      const role = r.inRecovery ? 'replica' : 'primary';
      if (role !== n.state.role) {
        const from = n.state.role;
        n.state.role = role;
        emit('roleChanged', { clusterId: n.clusterId, nodeId: n.id, from, to: role });
      }
      if (r.replayAgeMs === undefined || r.replayAgeMs === null) delete n.replayAgeMs;
      else n.replayAgeMs = r.replayAgeMs;
      if (n.down) {
        const downtime = Date.now() - n.downSince;
        n.down = false;
        n.state.healthScore = 50;
        emit('nodeUp', { clusterId: n.clusterId, nodeId: n.id, downtime });
      } else {
        n.state.healthScore = Math.min(100, n.state.healthScore + 25);
      }
      n.state.healthy = true;
      return;
    }
    n.reachable = false;
    n.consecutiveFailures++;
    n.lastError = redactSecrets(r.error?.message ?? 'probe failed', secrets);
    n.state.healthScore = Math.max(0, n.state.healthScore - Math.ceil(100 / s.maxFailures));
    n.state.healthy = false;
    if (!n.down && n.consecutiveFailures >= s.maxFailures) {
      n.down = true;
      n.downSince = Date.now();
      n.state.healthScore = 0;
      emit('nodeDown', {
        clusterId: n.clusterId,
        nodeId: n.id,
        reason: n.lastError,
        failureCount: n.consecutiveFailures,
      });
    }
    if (n.down) {
      n.nextProbeAt = performance.now() + Math.min(s.interval * 2 ** n.backoffSteps, s.interval * 4);
      n.backoffSteps++;
    }
  }

  function evaluateRoles(g: GroupRuntime): void {
    const claimants = g.nodes.filter((n) => n.reachable && !n.down && n.state.role === 'primary');
    if (claimants.length > 1) {
      const ids = claimants.map((n) => n.id);
      if (!g.splitBrain || g.splitBrain.join() !== ids.join()) {
        g.splitBrain = ids;
        emit('splitBrain', { clusterId: g.clusterId, ...(g.shardId ? { shardId: g.shardId } : {}), primaries: ids });
      }
      return;
    }
    delete g.splitBrain;
    const only = claimants[0];
    if (only && only !== g.primary) {
      const from = g.primary.id;
      g.primary = only;
      emit('primaryChanged', {
        clusterId: g.clusterId,
        ...(g.shardId ? { shardId: g.shardId } : {}),
        from,
        to: only.id,
      });
    }
  }

  function evaluateLag(g: GroupRuntime): void {
    const p = g.primary;
    const primaryLsn = p.reachable && p.state.role === 'primary' ? p.lsn : undefined;
    const now = Date.now();
    for (const n of g.nodes) {
      if (n === p) {
        n.state.lagBytes = 0;
        n.state.lagMs = 0;
        n.lagKnown = true;
        continue;
      }
      if (!n.reachable || n.state.role !== 'replica') continue;
      if (primaryLsn === undefined || n.lsn === undefined) {
        n.lagKnown = false;
        continue;
      }
      const bytes = primaryLsn > n.lsn ? primaryLsn - n.lsn : 0n;
      n.state.lagBytes = Number(bytes);
      if (bytes === 0n) {
        n.caughtUpAt = now;
        n.behindSince = 0;
        n.state.lagMs = 0;
        n.lagKnown = true;
      } else {
        if (n.behindSince === 0) n.behindSince = now;
        const age = n.replayAgeMs;
        // The oldest missing WAL was written after both the last replayed commit and the last time we saw it caught up.
        const since = Math.max(age === undefined ? 0 : now - age, n.caughtUpAt);
        n.lagKnown = since > 0;
        n.state.lagMs = since > 0 ? Math.max(0, now - since) : 0;
      }
      if (n.lagKnown && n.state.lagMs > s.lagWarningMs && !n.lagging) {
        n.lagging = true;
        emit('replicaLagging', {
          clusterId: n.clusterId,
          nodeId: n.id,
          lagMs: n.state.lagMs,
          lagBytes: n.state.lagBytes,
        });
      } else if (n.lagging && n.lagKnown && n.state.lagMs <= s.lagWarningMs) {
        n.lagging = false;
        emit('replicaCaughtUp', { clusterId: n.clusterId, nodeId: n.id });
      }
    }
  }

  function evaluateCluster(c: ClusterRuntime): void {
    const broken = c.groups.find((g) => g.splitBrain || g.primary.down);
    if (broken && !c.down) {
      c.down = true;
      c.downSince = Date.now();
      const reason = broken.splitBrain
        ? `more than one primary: ${broken.splitBrain.join(', ')}`
        : `primary ${broken.primary.id} is down: ${broken.primary.lastError ?? 'unreachable'}`;
      emit('clusterDown', { clusterId: c.id, reason });
    } else if (!broken && c.down) {
      c.down = false;
      emit('clusterRecovered', { clusterId: c.id, downtime: Date.now() - c.downSince });
    }
  }

  return {
    async start() {
      stopped = false;
      await Promise.all(groups().map((g) => round(g, true)));
    },
    kick(g) {
      if (running.has(g)) kicked.add(g);
      else if (stopped) void round(g);
      else schedule(g, 0);
    },
    async probeAll() {
      await Promise.all(
        groups().map(async (g) => {
          // A round already in flight may skip down nodes: wait for it, then run a forced one.
          await running.get(g);
          await round(g, true);
        }),
      );
    },
    stop() {
      stopped = true;
      closed = true;
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
      for (const g of groups()) for (const n of g.nodes) n.prober?.close();
    },
  };
}
