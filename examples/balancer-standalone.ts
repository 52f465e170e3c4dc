// The balancer package on its own, over plain pg.Pools: no router, no facade.
import { leastConnections } from '@pg-multiverse/balancer';
import type { NodeState } from '@pg-multiverse/core';
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
    state: {
      id: c.id,
      clusterId: 'standalone',
      role: 'replica',
      weight: 1,
      inFlight: 0,
      ewmaLatencyMs: 0,
      lastSampleAt: 0,
      healthScore: 100,
      healthy: true,
      lagBytes: 0,
      lagMs: 0,
    },
  }));
  const byState = new Map(replicas.map((r) => [r.state, r]));
  const balancer = leastConnections();
  const served: Record<string, number> = {};
  const query = async (sql: string) => {
    const node = balancer.pick(replicas.map((r) => r.state))!;
    const r = byState.get(node)!;
    node.inFlight++;
    try {
      served[r.id] = (served[r.id] ?? 0) + 1;
      return await r.pool.query(sql);
    } finally {
      node.inFlight--;
    }
  };
  try {
    await Promise.all(Array.from({ length: 40 }, () => query('SELECT pg_sleep(0.005)')));
    return served;
  } finally {
    await Promise.all(replicas.map((r) => r.pool.end()));
  }
}
