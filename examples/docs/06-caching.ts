// Product documentation: "Caching System" (cache key, tags, invalidation by schema and tags).
import { PgMultiverse } from 'pg-multiverse';
import type { ExampleContext } from './context.js';

export async function run({ config, log }: ExampleContext) {
  const postgres = new PgMultiverse({ enableCache: true });
  await postgres.initialize(config);
  const hits: string[] = [];
  postgres.on('cacheHit', ({ key, schema }) => {
    hits.push(`${key}@${schema}`);
  });
  try {
    const read = () =>
      postgres.query('SELECT * FROM products ORDER BY id', [], {
        schema: 'products',
        cache: true,
        cacheTtl: 1800000, // 30 minutes
        cacheKey: 'all_products',
        tags: ['products', 'catalog'], // For bulk invalidation
      });
    await read();
    await read(); // served from the cache
    const bySchema = await postgres.invalidateCache({ schema: 'products' });
    await read();
    const byTags = await postgres.invalidateCache({ tags: ['products', 'inventory'] });
    await read();
    const metrics = postgres.getMetrics();
    log(
      `hits: ${hits.length}, invalidated by schema: ${bySchema}, by tags: ${byTags}, hit rate ${metrics.cache?.hitRate}`,
    );
    return { hits, bySchema, byTags, cache: metrics.cache };
  } finally {
    await postgres.close();
  }
}
