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

/** Counts what the facade and router report. Every figure is counted, none is made up. */
export class MetricsCollector {
  private readonly startedAt = Date.now();
  private readonly clusters = new Map<string, Acc>();

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

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Render metrics in the Prometheus text exposition format (version 0.0.4). */
export function toPrometheus(m: SystemMetrics, prefix = 'pgm'): string {
  const out: string[] = [];
  const metric = (name: string, type: 'counter' | 'gauge', help: string, rows: [Record<string, string>, number][]) => {
    out.push(`# HELP ${prefix}_${name} ${help}`, `# TYPE ${prefix}_${name} ${type}`);
    for (const [labels, value] of rows) {
      const l = Object.entries(labels)
        .map(([k, v]) => `${k}="${esc(v)}"`)
        .join(',');
      out.push(`${prefix}_${name}${l ? `{${l}}` : ''} ${Number.isFinite(value) ? value : 0}`);
    }
  };
  const cl = Object.entries(m.clusters);
  metric(
    'queries_total',
    'counter',
    'Queries by cluster and kind.',
    cl.flatMap(([c, s]) => [
      [{ cluster: c, kind: 'read' }, s.queries.reads] as [Record<string, string>, number],
      [{ cluster: c, kind: 'write' }, s.queries.writes] as [Record<string, string>, number],
    ]),
  );
  metric(
    'query_errors_total',
    'counter',
    'Failed queries by cluster.',
    cl.map(([c, s]) => [{ cluster: c }, s.queries.errors]),
  );
  metric(
    'queries_cross_shard_total',
    'counter',
    'Cross-shard statements by cluster.',
    cl.map(([c, s]) => [{ cluster: c }, s.queries.crossShard]),
  );
  metric(
    'queries_cached_total',
    'counter',
    'Queries answered from the cache.',
    cl.map(([c, s]) => [{ cluster: c }, s.queries.cached]),
  );
  metric(
    'query_duration_ms_avg',
    'gauge',
    'Mean query latency in ms.',
    cl.map(([c, s]) => [{ cluster: c }, s.queries.avgResponseTime]),
  );
  metric(
    'node_queries_total',
    'counter',
    'Statements executed per node.',
    cl.flatMap(([c, s]) =>
      Object.entries(s.nodes).map(([n, v]) => [{ cluster: c, node: n }, v.queries] as [Record<string, string>, number]),
    ),
  );
  metric(
    'node_errors_total',
    'counter',
    'Failed statements per node.',
    cl.flatMap(([c, s]) =>
      Object.entries(s.nodes).map(([n, v]) => [{ cluster: c, node: n }, v.errors] as [Record<string, string>, number]),
    ),
  );
  metric(
    'connections',
    'gauge',
    'Pooled connections by state.',
    cl.flatMap(([c, s]) =>
      (['total', 'idle', 'waiting', 'active'] as const).map(
        (k) => [{ cluster: c, state: k }, s.connections[k]] as [Record<string, string>, number],
      ),
    ),
  );
  if (m.cache) {
    metric('cache_hits_total', 'counter', 'Cache hits.', [[{}, m.cache.hits]]);
    metric('cache_misses_total', 'counter', 'Cache misses.', [[{}, m.cache.misses]]);
    metric('cache_items', 'gauge', 'Entries in the cache.', [[{}, m.cache.itemCount]]);
    metric('cache_bytes', 'gauge', 'Bytes in the cache.', [[{}, m.cache.bytes]]);
  }
  metric('transactions_total', 'counter', 'Transactions by outcome.', [
    [{ outcome: 'committed' }, m.transactions.committed],
    [{ outcome: 'rolled_back' }, m.transactions.rolledBack],
    [{ outcome: 'recovered' }, m.transactions.recovered],
  ]);
  metric('prepared_transaction_oldest_age_ms', 'gauge', 'Age of the oldest in-doubt prepared transaction.', [
    [{}, m.transactions.oldestPreparedAgeMs],
  ]);
  return `${out.join('\n')}\n`;
}
