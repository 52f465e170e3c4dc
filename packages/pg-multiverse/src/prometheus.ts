import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NodeSnapshot } from '@pg-multiverse/router';
import { type CacheMetrics, DURATION_BUCKETS, type MetricsCollector, TWO_PHASE_OUTCOMES } from './metrics.js';

/** Content type of the Prometheus text exposition format served by `metricsHandler()`. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** What a scrape reads besides the collector's counters: the router's and the cache's state now. */
export interface ScrapeState {
  nodes: readonly NodeSnapshot[];
  /** `cluster/node` -> the pool's `max`. */
  poolMax: ReadonlyMap<string, number>;
  cache: CacheMetrics | undefined;
  transactions: { active: number; oldestPreparedAgeMs: number } | undefined;
}

type Labels = Record<string, string>;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelText(labels: Labels): string {
  let out = '';
  for (const k in labels) out += `${out ? ',' : ''}${k}="${escapeLabel(labels[k]!)}"`;
  return out ? `{${out}}` : '';
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

/**
 * Every metric in the Prometheus text format (0.0.4), names after Prometheus's
 * conventions (base units, `_total` counters, a `_seconds` histogram); checked
 * by `promtool check metrics` in the tests. See the README's "Prometheus" table.
 */
export function renderPrometheus(m: MetricsCollector, state: ScrapeState, prefix = 'pgm'): string {
  const out: string[] = [];
  const family = (name: string, type: 'counter' | 'gauge' | 'histogram', help: string) => {
    out.push(`# HELP ${prefix}_${name} ${help}`, `# TYPE ${prefix}_${name} ${type}`);
  };
  const sample = (name: string, labels: Labels, value: number) => {
    out.push(`${prefix}_${name}${labelText(labels)} ${num(value)}`);
  };

  family(
    'query_duration_seconds',
    'histogram',
    'Duration of statements executed on a node (queries, transaction and migration statements), seconds.',
  );
  for (const s of m.durationSeries()) {
    const labels = { cluster: s.clusterId, node: s.nodeId, role: s.role, kind: s.kind };
    let cumulative = 0;
    DURATION_BUCKETS.forEach((le, i) => {
      cumulative += s.buckets[i]!;
      sample('query_duration_seconds_bucket', { ...labels, le: String(le) }, cumulative);
    });
    sample('query_duration_seconds_bucket', { ...labels, le: '+Inf' }, s.count);
    sample('query_duration_seconds_sum', labels, s.sum);
    sample('query_duration_seconds_count', labels, s.count);
  }

  family(
    'queries_total',
    'counter',
    'query() calls and transaction/migration statements, by cluster, kind and cached.',
  );
  for (const c of m.queryCounts()) {
    sample('queries_total', { cluster: c.clusterId, kind: 'read', cached: 'false' }, c.reads - c.cachedReads);
    sample('queries_total', { cluster: c.clusterId, kind: 'read', cached: 'true' }, c.cachedReads);
    sample('queries_total', { cluster: c.clusterId, kind: 'write', cached: 'false' }, c.writes);
  }

  family(
    'queries_cross_shard_total',
    'counter',
    'Statements run across several shards (fan-out and merge), by cluster.',
  );
  for (const c of m.queryCounts()) sample('queries_cross_shard_total', { cluster: c.clusterId }, c.crossShard);

  family(
    'query_errors_total',
    'counter',
    'Failed queries and statements, by cluster and code (SQLSTATE, else the error code).',
  );
  for (const [cluster, byCode] of m.counters.errors) {
    for (const [code, n] of byCode) sample('query_errors_total', { cluster, code }, n);
  }

  family('query_retries_total', 'counter', 'Reads retried on another node after a retryable failure.');
  for (const [cluster, n] of m.counters.retries) sample('query_retries_total', { cluster }, n);

  family('node_transitions_total', 'counter', 'Nodes marked down or up again by the health monitor.');
  for (const t of m.counters.transitions.values()) {
    sample('node_transitions_total', { cluster: t.clusterId, node: t.nodeId, direction: 'down' }, t.down);
    sample('node_transitions_total', { cluster: t.clusterId, node: t.nodeId, direction: 'up' }, t.up);
  }

  family('node_up', 'gauge', 'Whether the node is healthy and routable (1) or not (0).');
  for (const n of state.nodes)
    sample('node_up', { cluster: n.clusterId, node: n.nodeId, role: n.role }, n.healthy ? 1 : 0);
  family('node_health_score', 'gauge', 'Health score of the node used by the health-aware balancer (0..1).');
  for (const n of state.nodes) sample('node_health_score', { cluster: n.clusterId, node: n.nodeId }, n.healthScore);

  const replicas = state.nodes.filter((n) => n.role === 'replica');
  family('replica_lag_seconds', 'gauge', 'Replay lag of the replica, seconds, as last probed.');
  for (const n of replicas) sample('replica_lag_seconds', { cluster: n.clusterId, node: n.nodeId }, n.lagMs / 1000);
  family('replica_lag_bytes', 'gauge', 'Replay lag of the replica, bytes of WAL, as last probed.');
  for (const n of replicas) sample('replica_lag_bytes', { cluster: n.clusterId, node: n.nodeId }, n.lagBytes);

  family('pool_connections_in_use', 'gauge', 'Pooled connections checked out.');
  for (const n of state.nodes) {
    sample('pool_connections_in_use', { cluster: n.clusterId, node: n.nodeId }, n.pool.total - n.pool.idle);
  }
  family('pool_connections_idle', 'gauge', 'Pooled connections open and idle.');
  for (const n of state.nodes) sample('pool_connections_idle', { cluster: n.clusterId, node: n.nodeId }, n.pool.idle);
  family('pool_clients_waiting', 'gauge', 'Requests waiting for a pooled connection.');
  for (const n of state.nodes) sample('pool_clients_waiting', { cluster: n.clusterId, node: n.nodeId }, n.pool.waiting);
  family('pool_connections_max', 'gauge', "The pool's maximum number of connections.");
  for (const n of state.nodes) {
    const max = state.poolMax.get(`${n.clusterId}/${n.nodeId}`);
    if (max !== undefined) sample('pool_connections_max', { cluster: n.clusterId, node: n.nodeId }, max);
  }

  if (state.cache) {
    const c = state.cache;
    family('cache_hits_total', 'counter', 'Reads answered from the cache.');
    sample('cache_hits_total', {}, c.hits);
    family('cache_misses_total', 'counter', 'Cacheable reads the cache could not answer.');
    sample('cache_misses_total', {}, c.misses);
    family('cache_stale_hits_total', 'counter', 'Cache entries found but too stale for the read.');
    sample('cache_stale_hits_total', {}, c.staleHits);
    family('cache_evictions_total', 'counter', 'Entries evicted from the cache.');
    sample('cache_evictions_total', {}, c.evictions);
    family('cache_entries', 'gauge', 'Entries in the cache.');
    sample('cache_entries', {}, c.itemCount);
    family('cache_size_bytes', 'gauge', 'Bytes held by the cache.');
    sample('cache_size_bytes', {}, c.bytes);
  }

  family('transactions_total', 'counter', 'withTransaction() outcomes.');
  sample('transactions_total', { outcome: 'committed' }, m.counters.transactions.committed);
  sample('transactions_total', { outcome: 'rolled_back' }, m.counters.transactions.rolled_back);
  family(
    'two_phase_commits_total',
    'counter',
    'Two-phase commits by outcome: committed, rolled_back (per transaction); recovered_commit, recovered_rollback (per prepared participant finished by recovery).',
  );
  for (const o of TWO_PHASE_OUTCOMES) sample('two_phase_commits_total', { outcome: o }, m.counters.twoPhase[o]);
  if (state.transactions) {
    family('transactions_active', 'gauge', 'Transactions running now.');
    sample('transactions_active', {}, state.transactions.active);
    family(
      'prepared_transaction_oldest_age_seconds',
      'gauge',
      'Age of the oldest in-doubt prepared transaction seen by recovery.',
    );
    sample('prepared_transaction_oldest_age_seconds', {}, state.transactions.oldestPreparedAgeMs / 1000);
  }
  return `${out.join('\n')}\n`;
}

/**
 * A `node:http` request handler serving `render()` (Express: `app.get('/metrics', handler)`;
 * Fastify: `(req, reply) => handler(req.raw, reply.raw)`). GET and HEAD; 405 otherwise;
 * 503 with the reason when the metrics cannot be read (closed, not initialized).
 */
export function prometheusHandler(render: () => string): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
      res.end('use GET\n');
      return;
    }
    let body: string;
    try {
      body = render();
    } catch (err) {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`metrics unavailable: ${(err as Error).message}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}
