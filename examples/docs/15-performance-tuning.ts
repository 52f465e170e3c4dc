// Product documentation: "Performance tuning" (pool warm-up, cache size and compression, health checks).
import { PgMultiverse } from 'pg-multiverse';
import type { ExampleContext } from './context.js';

export async function run({ config, log }: ExampleContext) {
  const postgres = new PgMultiverse({
    enableCache: true,
    connectionPool: {
      min: 5, // Always keep 5 connections warm
      max: 50, // Scale up to 50 under load
      warmupConnections: true,
    },
    cache: {
      maxSize: 10000, // Increase for high-traffic apps
      enableCompression: true, // Save memory on large results
      compressionThreshold: 1024,
    },
    cluster: {
      healthCheckInterval: 15000, // More frequent checks
      maxFailuresBeforeMarkDown: 5, // More resilient to transient issues
    },
  });
  await postgres.initialize(config);
  try {
    const big = await postgres.query("SELECT g AS id, repeat('x', 100) AS pad FROM generate_series(1, 200) g", [], {
      schema: 'users',
      cache: true,
    });
    const again = await postgres.query("SELECT g AS id, repeat('x', 100) AS pad FROM generate_series(1, 200) g", [], {
      schema: 'users',
      cache: true,
    });
    const metrics = postgres.getMetrics();
    log(
      'connections per cluster:',
      Object.fromEntries(Object.entries(metrics.clusters).map(([k, v]) => [k, v.connections.total])),
    );
    return { rows: big.rows.length, same: JSON.stringify(big.rows) === JSON.stringify(again.rows), metrics };
  } finally {
    await postgres.close();
  }
}
