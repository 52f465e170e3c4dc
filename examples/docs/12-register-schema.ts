// Product documentation: "Runtime schema registration".
import { PgMultiverse } from 'pg-multiverse';
import type { ExampleContext } from './context.js';

export async function run({ config, log }: ExampleContext) {
  const postgres = new PgMultiverse({ enableCache: true });
  await postgres.initialize({
    ...config,
    analytics_cluster: { schemas: ['analytics_staging'], primary: config.commerce_cluster!.primary },
  });
  try {
    await postgres.query('CREATE SCHEMA IF NOT EXISTS analytics', [], { schema: 'analytics_staging' });
    await postgres.query('CREATE TABLE IF NOT EXISTS analytics.events (id serial, date date NOT NULL, name text)', [], {
      schema: 'analytics_staging',
    });
    await postgres.query("INSERT INTO analytics.events (date, name) VALUES (current_date, 'signup')", [], {
      schema: 'analytics_staging',
    });
    // Register schemas at runtime
    postgres.registerSchema('analytics', 'analytics_cluster', {
      cacheStrategy: 'aggressive',
      priority: 3,
    });
    const startDate = '2000-01-01';
    // Query the new schema
    const events = await postgres.query('SELECT * FROM events WHERE date > $1', [startDate], { schema: 'analytics' });
    log(`${events.rows.length} analytics events`);
    return events.rows;
  } finally {
    await postgres.close();
  }
}
