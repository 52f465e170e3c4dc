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

/** First re-probe of a failing node, ms; doubles per failure up to `RETRY_MAX_MS` (both capped by the interval). */
export const RETRY_FIRST_MS = 250;
export const RETRY_MAX_MS = 1_000;

export interface HealthMonitor {
  /** Probe every node once (first round), then keep probing on the interval. */
  start(): Promise<void>;
  /** Probe a group now (coalesced with a round in flight). */
  kick(group: GroupRuntime): void;
  /**
   * A query on `node` failed at the connection level: probe that node now
   * (unless it is already down or being probed). A refused probe marks it
   * down at once.
   */
  confirm(group: GroupRuntime, node: NodeRuntime): void;
  /** Probe every node now and wait for the results. */
  probeAll(): Promise<void>;
  stop(): void;
}

/**
 * Background health, lag and role monitor.
 *
 * - Full rounds: every `interval`, all nodes of a group (a cluster or a
 *   shard: one primary with its replicas) are probed together, then roles,
 *   lag and cluster status are evaluated. One round per group at a time.
 * - Probes are single-flight per node: a round, a confirmation or a re-probe
 *   that wants a node already being probed shares that probe, so probes of
 *   a node never overlap; each is bounded by the timeout.
 * - Confirmation (`confirm`): a connection-level failure on the query path
 *   probes that node at once.
 * - Mark-down: a probe whose last attempt on a fresh connection was refused
 *   (`ProbeResult.refused`) marks the node down at once; other failures
 *   (timeouts, errors like too many connections or bad credentials) count,
 *   and `maxFailures` consecutive ones mark it down.
 * - A node whose last probe failed (down or not) is re-probed on its own
 *   timer, `RETRY_FIRST_MS` doubling to `RETRY_MAX_MS` (never slower than
 *   the interval), until a probe succeeds; down nodes are left out of full
 *   rounds meanwhile.
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
  /** Probe in flight per node (shared by whoever asks meanwhile). */
  const probing = new Map<NodeRuntime, Promise<void>>();
  /** Nodes that failed on the query path while a probe begun earlier was in flight: probe again after it. */
  const recheck = new Set<NodeRuntime>();
  /** Pending re-probe of a failing node. */
  const retries = new Map<NodeRuntime, NodeJS.Timeout>();
  const retryMax = Math.max(1, Math.min(RETRY_MAX_MS, s.interval));
  const retryFirst = Math.min(RETRY_FIRST_MS, retryMax);
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
      // Down nodes are on their own re-probe timer; one without (should not happen, but cheap) joins the round.
      const due = g.nodes.filter((n) => force || !n.down || !retries.has(n));
      await Promise.all(due.map((n) => probeNode(g, n)));
      if (closed) return;
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

  /** Probe one node and apply the result; joins the probe of that node in flight, if any. */
  function probeNode(g: GroupRuntime, n: NodeRuntime): Promise<void> {
    const inFlight = probing.get(n);
    if (inFlight) return inFlight;
    n.prober ??= createProber(n.pgConfig, s.timeout, s.attempts);
    const prober = n.prober;
    const p = (async () => {
      let r: ProbeResult;
      try {
        r = await prober.probe();
      } finally {
        probing.delete(n);
      }
      if (closed) return;
      applyProbe(g, n, r);
      // That probe may have begun before the failure it is asked to confirm: a success proves nothing, look again.
      if (recheck.delete(n) && r.ok) probeAlone(g, n);
    })();
    probing.set(n, p);
    return p;
  }

  /** Probe one node outside a round, then re-evaluate its group's roles and cluster status. */
  function probeAlone(g: GroupRuntime, n: NodeRuntime): void {
    probeNode(g, n)
      .then(() => {
        if (closed) return;
        evaluateRoles(g);
        const c = clusterOf(g);
        if (c) evaluateCluster(c);
      })
      .catch(() => undefined);
  }

  function scheduleRetry(g: GroupRuntime, n: NodeRuntime): void {
    if (closed) return;
    clearTimeout(retries.get(n));
    const delay = Math.min(retryFirst * 2 ** Math.min(n.backoffSteps, 16), retryMax);
    n.backoffSteps++;
    const t = setTimeout(() => {
      retries.delete(n);
      probeAlone(g, n);
    }, delay);
    t.unref();
    retries.set(n, t);
  }

  function cancelRetry(n: NodeRuntime): void {
    const t = retries.get(n);
    if (t === undefined) return;
    clearTimeout(t);
    retries.delete(n);
  }

  function applyProbe(g: GroupRuntime, n: NodeRuntime, r: ProbeResult): void {
    n.responseTime = r.responseTime;
    if (r.ok) {
      cancelRetry(n);
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
        // Its lag is from before it went down: unknown until the group's next full round, run now.
        if (n !== g.primary) n.lagKnown = false;
        n.state.healthy = true;
        emit('nodeUp', { clusterId: n.clusterId, nodeId: n.id, downtime });
        if (running.has(g)) kicked.add(g);
        else schedule(g, 0);
        return;
      }
      n.state.healthScore = Math.min(100, n.state.healthScore + 25);
      n.state.healthy = true;
      return;
    }
    n.reachable = false;
    n.consecutiveFailures++;
    n.lastError = redactSecrets(r.error?.message ?? 'probe failed', secrets);
    n.state.healthScore = Math.max(0, n.state.healthScore - Math.ceil(100 / s.maxFailures));
    n.state.healthy = false;
    if (!n.down && (r.refused || n.consecutiveFailures >= s.maxFailures)) {
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
    scheduleRetry(g, n);
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
    confirm(g, n) {
      if (closed || n.down) return;
      if (probing.has(n)) recheck.add(n);
      else probeAlone(g, n);
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
      for (const t of retries.values()) clearTimeout(t);
      retries.clear();
      for (const g of groups()) for (const n of g.nodes) n.prober?.close();
    },
  };
}
