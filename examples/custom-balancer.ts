// A custom balancer plugged into the facade: any object with `name` and a synchronous `pick`.
// This one sends reads to the replica with the least replication lag, round robin among ties.
import type { Balancer, ClusterConfiguration, NodeState } from 'pg-multiverse';
import { PgMultiverse } from 'pg-multiverse';

export function leastLag(): Balancer {
  let turn = 0;
  return {
    name: 'least_lag',
    pick(candidates: readonly NodeState[]) {
      if (candidates.length === 0) return undefined;
      let best = Number.POSITIVE_INFINITY;
      for (const c of candidates) if (c.lagBytes < best) best = c.lagBytes;
      let ties = 0;
      for (const c of candidates) if (c.lagBytes === best) ties++;
      let k = turn++ % ties;
      for (const c of candidates) if (c.lagBytes === best && k-- === 0) return c;
      return candidates[0];
    },
  };
}

export async function run(config: ClusterConfiguration) {
  const balancer = leastLag();
  const postgres = new PgMultiverse({ loadBalancing: { strategy: balancer } });
  await postgres.initialize(config);
  const served: Record<string, number> = {};
  postgres.on('queryExecuted', ({ nodeId }) => {
    served[nodeId] = (served[nodeId] ?? 0) + 1;
  });
  try {
    for (let i = 0; i < 20; i++) await postgres.query('SELECT 1', [], { schema: 'users' });
    return served;
  } finally {
    await postgres.close();
  }
}
