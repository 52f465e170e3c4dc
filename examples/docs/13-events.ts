// Product documentation: "Events" (health, cache and query monitoring).
import { PgMultiverse } from 'pg-multiverse';
import type { ExampleContext } from './context.js';

export async function run({ config, log }: ExampleContext) {
  const postgres = new PgMultiverse({ enableCache: true });
  const seen: string[] = [];
  // Monitor cluster health
  postgres.on('clusterDown', ({ clusterId, reason }) => {
    log(`Cluster ${clusterId} is down: ${reason}`);
  });
  postgres.on('clusterRecovered', ({ clusterId, downtime }) => {
    log(`Cluster ${clusterId} recovered after ${downtime}ms`);
  });
  // Monitor cache performance
  postgres.on('cacheHit', ({ key, schema }) => {
    seen.push('cacheHit');
    log(`Cache hit for ${key} in schema ${schema}`);
  });
  // Monitor query performance
  postgres.on('queryExecuted', ({ duration, clusterId }) => {
    seen.push(`queryExecuted:${clusterId}`);
    if (duration > 1000) log(`Slow query detected: ${duration}ms on ${clusterId}`);
  });
  await postgres.initialize(config);
  try {
    await postgres.query('SELECT count(*) FROM users', [], { schema: 'users', cache: true });
    await postgres.query('SELECT count(*) FROM users', [], { schema: 'users', cache: true });
    return seen;
  } finally {
    await postgres.close();
  }
}
