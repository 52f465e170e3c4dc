// Product documentation: "Metrics" and "Health checks".
import { PgMultiverse } from 'pg-multiverse';
import type { ExampleContext } from './context.js';

export async function run({ config, log }: ExampleContext) {
  const postgres = new PgMultiverse({ enableCache: true, enableMetrics: true });
  await postgres.initialize(config);
  try {
    await postgres.query('SELECT * FROM products', [], { schema: 'products', cache: true });
    await postgres.query('SELECT * FROM products', [], { schema: 'products', cache: true });
    await postgres.query('SELECT * FROM users', [], { schema: 'users' });
    await postgres.query('SELECT * FROM no_such_table', [], { schema: 'users' }).catch(() => {});

    const metrics = postgres.getMetrics();
    log(`Total Queries: ${metrics.totalQueries}`);
    log(`Average Response Time: ${metrics.avgResponseTime}ms`);
    log(`Error Rate: ${metrics.errorRate}%`);
    Object.entries(metrics.clusters).forEach(([clusterId, stats]) => {
      log(`${clusterId}: ${stats.queries.total} queries, ${stats.connections.active} active connections`);
    });
    if (metrics.cache) {
      log(`Cache Hit Rate: ${(metrics.cache.hitRate * 100).toFixed(2)}%`);
      log(`Cache Size: ${metrics.cache.itemCount} items`);
    }

    const health = await postgres.healthCheck();
    Object.entries(health).forEach(([clusterId, status]) => {
      log(`${clusterId}: ${status.healthy ? '✅' : '❌'} (${status.responseTime}ms)`);
      if (!status.healthy) {
        log(`Error: ${status.error}`);
        log(`Failure Count: ${status.failureCount}`);
      }
    });
    return { metrics, health, prometheus: postgres.getMetrics({ format: 'prometheus' }) };
  } finally {
    await postgres.close();
  }
}
