import { existsSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { hashShard } from 'pg-multiverse';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { run as migrationsQuickStart } from '../docs/01-migrations-quick-start.js';
import { run as quickStart } from '../docs/02-quick-start.js';
import { run as crossCluster } from '../docs/03-cross-cluster-transaction.js';
import { run as architecture } from '../docs/04-multi-cluster-architecture.js';
import { run as loadBalancing } from '../docs/05-load-balancing.js';
import { run as caching } from '../docs/06-caching.js';
import { run as runningMigrations } from '../docs/07-running-migrations.js';
import { run as rollback } from '../docs/08-rollback.js';
import { run as status } from '../docs/09-migration-status.js';
import { run as createMigration } from '../docs/10-create-migration.js';
import { run as sharding } from '../docs/11-sharding.js';
import { run as registerSchema } from '../docs/12-register-schema.js';
import { run as events } from '../docs/13-events.js';
import { run as metricsAndHealth } from '../docs/14-metrics-and-health.js';
import { run as tuning } from '../docs/15-performance-tuning.js';
import { run as fromPg } from '../docs/16-from-pg.js';

// The documentation's examples use the real schema names (users, auth, orders, products),
// which the shared topology reserves for them; they run in order, as a reader would.
const { config, clusters } = inject('pgmTopology');
const log = () => {};
const ctx = { config, log };
let admin: { users: pg.Pool; commerce: pg.Pool };

function poolFor(node: unknown): pg.Pool {
  return typeof node === 'string' ? new pg.Pool({ connectionString: node }) : new pg.Pool(node as pg.PoolConfig);
}

beforeAll(() => {
  admin = { users: poolFor(config.users_cluster!.primary), commerce: poolFor(config.commerce_cluster!.primary) };
});
afterAll(async () => {
  await admin.users.end();
  await admin.commerce.end();
});

describe('product documentation examples', () => {
  it('migrations quick start: migrate, status, rollback one step', async () => {
    const r = await migrationsQuickStart(ctx);
    expect(r.before.pendingMigrations).toBe(0);
    expect(r.before.appliedMigrations).toBeGreaterThan(0);
    expect(r.afterRollback.appliedMigrations).toBe(r.before.appliedMigrations - 1);
    const t = await admin.users.query(
      "SELECT to_regclass('users.users') AS a, to_regclass('auth.users') AS b, to_regclass('users.profiles') AS c",
    );
    expect(t.rows[0]).toEqual({ a: 'users.users', b: 'auth.users', c: 'users.profiles' });
  });

  it('quick start: typed, routed, cached query', async () => {
    const r = await quickStart(ctx);
    expect(r.rows.map((u) => u.email).sort()).toEqual(['admin@example.com', 'user@example.com']);
    expect(r.again).toEqual(r.rows);
    expect(r.metrics.cache?.hits).toBe(1);
  });

  it('cross-cluster transaction commits on both clusters', async () => {
    const order = (await crossCluster(ctx)) as { id: number; user_id: number };
    expect(order.user_id).toBe(1);
    const o = await admin.commerce.query('SELECT total FROM orders.orders WHERE id = $1', [order.id]);
    expect(o.rows[0].total).toBe('99.50');
    const u = await admin.users.query('SELECT last_order FROM users.users WHERE id = 1');
    expect(u.rows[0].last_order).toBeInstanceOf(Date);
  });

  it('multi-cluster architecture: replica reads for users, primary reads for products', async () => {
    const r = await architecture(ctx);
    expect(r.users).toMatchObject({ replica: true });
    expect(r.products).toMatchObject({ replica: false });
  });

  it('load balancing: health_aware with weights spreads reads over both replicas', async () => {
    const served = await loadBalancing(ctx);
    // health_aware scores latency and load too, so shares follow health, not just the weights.
    expect(Object.keys(served).every((id) => id.startsWith('replica-'))).toBe(true);
    expect(Object.values(served).reduce((a, b) => a + b, 0)).toBe(60);
  });

  it('caching: cacheKey, tags, invalidation by schema and by tags', async () => {
    const r = await caching(ctx);
    expect(r.hits).toHaveLength(1);
    expect(r.bySchema).toBeGreaterThanOrEqual(1);
    expect(r.byTags).toBeGreaterThanOrEqual(1);
    expect(r.cache?.misses).toBe(3);
  });

  it('running migrations with options: a dry run plans, then all pending run', async () => {
    const r = await runningMigrations(ctx);
    expect(r.plan).toBeDefined();
    expect(r.result).toBeDefined();
  });

  it('rollback operations', async () => {
    const r = await rollback(ctx);
    expect(r.last.rolledBack).toBeGreaterThan(0);
    expect(r.preview.steps.map((s: { version: string; status: string }) => [s.version, s.status])).toEqual([
      ['20241230170000_migrate_user_data', 'planned'],
      ['20241230160000_conditional_update', 'planned'],
    ]);
    const t = await admin.commerce.query("SELECT to_regclass('orders.order_totals') AS t");
    expect(t.rows[0].t).toBe('orders.order_totals');
  });

  it('migration status by schema and by cluster', async () => {
    const r = await status(ctx);
    expect(r.status.pendingMigrations).toBe(0);
    expect(Object.keys(r.status.bySchema)).toEqual(expect.arrayContaining(['users', 'auth', 'orders', 'products']));
    expect(Object.keys(r.status.byCluster).sort()).toEqual(['commerce_cluster', 'users_cluster']);
    expect(r.migrations.map((m) => m.version)).toContain('20241230120000_create_users');
  });

  it('createMigration writes a timestamped file', async () => {
    const file = await createMigration(ctx);
    expect(existsSync(file)).toBe(true);
    expect(file).toMatch(/\d{14}_add_user_permissions\.ts$/);
    expect(readFileSync(file, 'utf8')).toContain('add_user_permissions');
  });

  it('sharding: each key lands on the server of its hash partition', async () => {
    const placed = await sharding(ctx);
    // inet_server_port() reports the server's own port (clients reach it through a proxy).
    const ports = [clusters.users_cluster!.primary.serverPort, clusters.commerce_cluster!.primary.serverPort];
    for (const [userId, port] of Object.entries(placed)) {
      const partition = hashShard(Number(userId), 4, 'int8');
      expect(port).toBe(ports[partition % 2]);
    }
  });

  it('registerSchema routes a new schema at runtime', async () => {
    const rows = await registerSchema(ctx);
    expect(rows.length).toBeGreaterThan(0);
  });

  it('events: queryExecuted and cacheHit', async () => {
    const seen = await events(ctx);
    expect(seen).toContain('cacheHit');
    expect(seen).toContain('queryExecuted:users_cluster');
  });

  it('metrics and health are counted, not made up', async () => {
    const r = await metricsAndHealth(ctx);
    expect(r.metrics.totalQueries).toBe(4);
    expect(r.metrics.totalErrors).toBe(1);
    expect(r.metrics.errorRate).toBe(25);
    expect(r.metrics.cache?.hits).toBe(1);
    expect(r.metrics.clusters.commerce_cluster!.queries.total).toBe(2);
    expect(r.health.users_cluster!.healthy).toBe(true);
    expect(Object.keys(r.health.users_cluster!.nodes).sort()).toEqual(['primary', 'replica-1', 'replica-2']);
    expect(r.prometheus).toMatch(/pgm_queries_total\{cluster="users_cluster",kind="read",cached="false"\} 2/);
    expect(r.prometheus).toMatch(/pgm_queries_total\{cluster="commerce_cluster",kind="read",cached="true"\} 1/);
    expect(r.prometheus).toMatch(/pgm_query_errors_total\{cluster="users_cluster",code="42P01"\} 1/);
  });

  it('performance tuning options: warm pools, compressed cache entries', async () => {
    const r = await tuning(ctx);
    expect(r.rows).toBe(200);
    expect(r.same).toBe(true);
    expect(r.metrics.clusters.users_cluster!.connections.total).toBeGreaterThanOrEqual(5);
  });

  it('migration guide: same rows through pg.Pool and PgMultiverse', async () => {
    const r = await fromPg(ctx);
    expect(r.after).toEqual(r.before);
  });
});
