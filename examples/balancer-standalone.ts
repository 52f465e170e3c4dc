// The balancer package on its own, over plain pg.Pools: no router, no facade.
import { leastConnections } from '@pg-multiverse/balancer';
import { createNodeState, type NodeState, recordLatency } from '@pg-multiverse/core';
import pg from 'pg';

export interface Replica {
  id: string;
  pool: pg.Pool;
  state: NodeState;
}

export async function run(
  replicaConfigs: { id: string; host: string; port: number; user?: string; database?: string }[],
) {
  const replicas: Replica[] = replicaConfigs.map((c) => ({
    id: c.id,
    pool: new pg.Pool({ host: c.host, port: c.port, user: c.user, database: c.database, max: 4 }),
    state: createNodeState({ id: c.id, clusterId: 'standalone', role: 'replica' }),
  }));
  const byState = new Map(replicas.map((r) => [r.state, r]));
  const balancer = leastConnections();
  const served: Record<string, number> = {};
  const query = async (sql: string) => {
    const node = balancer.pick(replicas.map((r) => r.state))!;
    const r = byState.get(node)!;
    node.inFlight++;
    const t0 = performance.now();
    let ok = false;
    try {
      served[r.id] = (served[r.id] ?? 0) + 1;
      const res = await r.pool.query(sql);
      ok = true;
      return res;
    } finally {
      node.inFlight--;
      // The one latency tracker, as the router does it: latency-based balancers read it.
      const t1 = performance.now();
      recordLatency(node, t1 - t0, ok, t1);
    }
  };
  try {
    await Promise.all(Array.from({ length: 40 }, () => query('SELECT pg_sleep(0.005)')));
    return served;
  } finally {
    await Promise.all(replicas.map((r) => r.pool.end()));
  }
}
