// Product documentation: "Load Balancing Strategies" (health_aware with weights and a threshold).
import { PgMultiverse } from 'pg-multiverse';
import type { ExampleContext } from './context.js';

export async function run({ config, log }: ExampleContext) {
  const postgres = new PgMultiverse({
    loadBalancing: {
      strategy: 'health_aware',
      weights: {
        'replica-1': 2,
        'replica-2': 1,
      },
      healthThreshold: 80,
    },
  });
  await postgres.initialize(config);
  const served: Record<string, number> = {};
  postgres.on('queryExecuted', ({ nodeId }) => {
    served[nodeId] = (served[nodeId] ?? 0) + 1;
  });
  try {
    for (let i = 0; i < 60; i++) await postgres.query('SELECT 1', [], { schema: 'users' });
    log('reads per node:', served);
    return served;
  } finally {
    await postgres.close();
  }
}
