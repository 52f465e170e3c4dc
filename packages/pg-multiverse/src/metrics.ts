/** Counters of one node, fed by the router's `queryExecuted` events. */
export interface NodeMetrics {
  queries: number;
  errors: number;
  avgResponseTime: number;
}

export interface ClusterMetrics {
  queries: {
    /** Every `query()` for this cluster, cache hits included. */
    total: number;
    reads: number;
    writes: number;
    errors: number;
    /** Served from the cache. */
    cached: number;
    /** Cross-shard statements run (one per statement, however many shards it ran on; cache hits not counted). */
    crossShard: number;
    /** Mean ms of `query()` calls (cache hits included). */
    avgResponseTime: number;
  };
  connections: { total: number; idle: number; waiting: number; active: number };
  nodes: Record<string, NodeMetrics>;
}

export interface CacheMetrics {
  /** hits / (hits + misses), 0..1. */
  hitRate: number;
  hits: number;
  misses: number;
  staleHits: number;
  itemCount: number;
  bytes: number;
  evictions: number;
}

export interface TransactionMetrics {
  started: number;
  committed: number;
  rolledBack: number;
  recovered: number;
  twoPhase: number;
  /** Age of the oldest in-doubt prepared transaction seen by the last recovery, ms (0 if none). */
  oldestPreparedAgeMs: number;
}

/** `getMetrics()`. */
export interface SystemMetrics {
  /** Every `query()` call since initialize (cache hits included). */
  totalQueries: number;
  totalErrors: number;
  /** Mean latency of `query()`, ms. */
  avgResponseTime: number;
  /** Failed queries in percent of all queries. */
  errorRate: number;
  uptimeMs: number;
  clusters: Record<string, ClusterMetrics>;
  cache?: CacheMetrics;
  transactions: TransactionMetrics;
}

interface Acc {
  total: number;
  reads: number;
  writes: number;
  errors: number;
  cached: number;
  crossShard: number;
  timeMs: number;
  nodes: Map<string, { queries: number; errors: number; timeMs: number }>;
}

/** Upper bounds (seconds) of the query duration histogram's buckets (`+Inf` implied). */
export const DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

/** One histogram series (cluster, node, role, kind): counts per bucket (not cumulative), sum in seconds. */
export interface DurationSeries {
  readonly clusterId: string;
  readonly nodeId: string;
  readonly role: string;
  readonly kind: 'read' | 'write';
  readonly buckets: number[];
  count: number;
  sum: number;
}

/** Outcomes of two-phase commits: committed, rolled back, or finished by recovery. */
export const TWO_PHASE_OUTCOMES = ['committed', 'rolled_back', 'recovered_commit', 'recovered_rollback'] as const;
export type TwoPhaseOutcome = (typeof TWO_PHASE_OUTCOMES)[number];

/** Counters fed by events (the Prometheus exposition reads them). */
export interface EventCounters {
  /** cluster -> retried reads. */
  retries: Map<string, number>;
  /** `cluster/node` -> [down, up] transitions. */
  transitions: Map<string, { clusterId: string; nodeId: string; down: number; up: number }>;
  /** cluster -> error code -> failed queries. */
  errors: Map<string, Map<string, number>>;
  transactions: { committed: number; rolled_back: number };
  twoPhase: Record<TwoPhaseOutcome, number>;
}

/** Counts what the facade and router report. Every figure is counted, none is made up. */
export class MetricsCollector {
  private readonly startedAt = Date.now();
  private readonly clusters = new Map<string, Acc>();
  /** cluster -> node -> `${role}:${kind}` -> series. */
  private readonly durations = new Map<string, Map<string, Map<string, DurationSeries>>>();
  readonly counters: EventCounters = {
    retries: new Map(),
    transitions: new Map(),
    errors: new Map(),
    transactions: { committed: 0, rolled_back: 0 },
    twoPhase: { committed: 0, rolled_back: 0, recovered_commit: 0, recovered_rollback: 0 },
  };

  /** Known clusters and nodes start at zero (a series that exists before its first event). */
  declareNodes(nodes: Iterable<{ clusterId: string; nodeId: string }>): void {
    for (const n of nodes) {
      this.acc(n.clusterId);
      if (!this.counters.retries.has(n.clusterId)) this.counters.retries.set(n.clusterId, 0);
      const key = `${n.clusterId}/${n.nodeId}`;
      if (!this.counters.transitions.has(key))
        this.counters.transitions.set(key, { clusterId: n.clusterId, nodeId: n.nodeId, down: 0, up: 0 });
    }
  }

  /** One statement's duration on a node (router `queryExecuted`), for the histogram. */
  observeDuration(clusterId: string, nodeId: string, role: string, kind: 'read' | 'write', durationMs: number): void {
    let byNode = this.durations.get(clusterId);
    if (!byNode) {
      byNode = new Map();
      this.durations.set(clusterId, byNode);
    }
    let bySeries = byNode.get(nodeId);
    if (!bySeries) {
      bySeries = new Map();
      byNode.set(nodeId, bySeries);
    }
    const key = role === 'primary' ? (kind === 'read' ? 'p:r' : 'p:w') : kind === 'read' ? `${role}:r` : `${role}:w`;
    let s = bySeries.get(key);
    if (!s) {
      s = { clusterId, nodeId, role, kind, buckets: new Array(DURATION_BUCKETS.length).fill(0), count: 0, sum: 0 };
      bySeries.set(key, s);
    }
    const seconds = durationMs / 1000;
    s.count++;
    s.sum += seconds;
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
    if (i < DURATION_BUCKETS.length) s.buckets[i]!++;
  }

  /** Every histogram series. */
  durationSeries(): DurationSeries[] {
    const out: DurationSeries[] = [];
    for (const byNode of this.durations.values())
      for (const bySeries of byNode.values()) out.push(...bySeries.values());
    return out;
  }

  /** A failed query or statement, by its code (SQLSTATE, else the PgmError code). */
  recordError(clusterId: string, code: string): void {
    let byCode = this.counters.errors.get(clusterId);
    if (!byCode) {
      byCode = new Map();
      this.counters.errors.set(clusterId, byCode);
    }
    byCode.set(code, (byCode.get(code) ?? 0) + 1);
  }

  recordRetry(clusterId: string): void {
    this.counters.retries.set(clusterId, (this.counters.retries.get(clusterId) ?? 0) + 1);
  }

  recordTransition(clusterId: string, nodeId: string, direction: 'down' | 'up'): void {
    const key = `${clusterId}/${nodeId}`;
    let t = this.counters.transitions.get(key);
    if (!t) {
      t = { clusterId, nodeId, down: 0, up: 0 };
      this.counters.transitions.set(key, t);
    }
    t[direction]++;
  }

  recordTransaction(outcome: 'committed' | 'rolled_back', twoPhase: TwoPhaseOutcome | undefined): void {
    this.counters.transactions[outcome]++;
    if (twoPhase) this.counters.twoPhase[twoPhase]++;
  }

  recordRecovered(action: 'commit' | 'rollback'): void {
    this.counters.twoPhase[action === 'commit' ? 'recovered_commit' : 'recovered_rollback']++;
  }

  /** Per cluster: queries by kind and whether the cache answered (reads only), since initialize. */
  queryCounts(): { clusterId: string; reads: number; cachedReads: number; writes: number; crossShard: number }[] {
    return [...this.clusters].map(([clusterId, a]) => ({
      clusterId,
      reads: a.reads,
      cachedReads: a.cached,
      writes: a.writes,
      crossShard: a.crossShard,
    }));
  }

  private acc(clusterId: string): Acc {
    let a = this.clusters.get(clusterId);
    if (!a) {
      a = { total: 0, reads: 0, writes: 0, errors: 0, cached: 0, crossShard: 0, timeMs: 0, nodes: new Map() };
      this.clusters.set(clusterId, a);
    }
    return a;
  }

  /** One `query()` call as the application saw it. */
  recordQuery(clusterId: string, kind: 'read' | 'write', durationMs: number, ok: boolean, cached: boolean): void {
    const a = this.acc(clusterId);
    a.total++;
    if (kind === 'read') a.reads++;
    else a.writes++;
    if (!ok) a.errors++;
    if (cached) a.cached++;
    a.timeMs += durationMs;
  }

  /** One cross-shard statement (router `queryExecuted` with reason `cross-shard`). */
  recordCrossShard(clusterId: string): void {
    this.acc(clusterId).crossShard++;
  }

  /** One statement executed on a node (router `queryExecuted`). */
  recordNode(clusterId: string, nodeId: string, durationMs: number, ok: boolean): void {
    const a = this.acc(clusterId);
    let n = a.nodes.get(nodeId);
    if (!n) {
      n = { queries: 0, errors: 0, timeMs: 0 };
      a.nodes.set(nodeId, n);
    }
    n.queries++;
    if (!ok) n.errors++;
    n.timeMs += durationMs;
  }

  snapshot(
    clusterIds: readonly string[],
    pools: Record<string, { total: number; idle: number; waiting: number }>,
    cache: CacheMetrics | undefined,
    tx:
      | {
          started: number;
          committed: number;
          twoPhaseCommitted: number;
          rolledBack: number;
          recoveredCommitted: number;
          recoveredRolledBack: number;
          oldestPreparedAgeMs: number;
        }
      | undefined,
  ): SystemMetrics {
    let total = 0;
    let errors = 0;
    let time = 0;
    const clusters: Record<string, ClusterMetrics> = {};
    for (const id of clusterIds) {
      const a = this.acc(id);
      total += a.total;
      errors += a.errors;
      time += a.timeMs;
      const conn = { total: 0, idle: 0, waiting: 0, active: 0 };
      for (const [key, s] of Object.entries(pools)) {
        if (!key.startsWith(`${id}/`)) continue;
        conn.total += s.total;
        conn.idle += s.idle;
        conn.waiting += s.waiting;
      }
      conn.active = conn.total - conn.idle;
      const nodes: Record<string, NodeMetrics> = {};
      for (const [nid, n] of a.nodes) {
        nodes[nid] = { queries: n.queries, errors: n.errors, avgResponseTime: n.queries ? n.timeMs / n.queries : 0 };
      }
      clusters[id] = {
        queries: {
          total: a.total,
          reads: a.reads,
          writes: a.writes,
          errors: a.errors,
          cached: a.cached,
          crossShard: a.crossShard,
          avgResponseTime: a.total ? a.timeMs / a.total : 0,
        },
        connections: conn,
        nodes,
      };
    }
    return {
      totalQueries: total,
      totalErrors: errors,
      avgResponseTime: total ? time / total : 0,
      errorRate: total ? (errors / total) * 100 : 0,
      uptimeMs: Date.now() - this.startedAt,
      clusters,
      ...(cache ? { cache } : {}),
      transactions: {
        started: tx?.started ?? 0,
        committed: tx?.committed ?? 0,
        rolledBack: tx?.rolledBack ?? 0,
        recovered: (tx?.recoveredCommitted ?? 0) + (tx?.recoveredRolledBack ?? 0),
        twoPhase: tx?.twoPhaseCommitted ?? 0,
        oldestPreparedAgeMs: tx?.oldestPreparedAgeMs ?? 0,
      },
    };
  }
}
