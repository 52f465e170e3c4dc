// Every statement is observed: those inside withTransaction and those of migrations run through the
// facade reach queryExecuted, getMetrics() and the tracer, like query() does. Shared topology.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QueryExecutedEvent } from '@pg-multiverse/router';
import { uniqueName, withSchemas } from '@pg-multiverse/testkit';
import { PgMultiverse, type QueryTracer } from 'pg-multiverse';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

const { config: shared } = inject('pgmTopology');
const US = uniqueName('ou');
const CS = uniqueName('oc');
const config = withSchemas(shared, { users_cluster: [US], commerce_cluster: [CS] });
let dir: string;

interface Span {
  name: string;
  attributes: Record<string, unknown>;
  startTime?: number;
  status?: { code: number };
  ended: boolean;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pgm-observe-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('statements on lent sessions are observed', () => {
  it('ten statements in a cross-cluster transaction: events with its id, metrics, spans; a migration too', async () => {
    const spans: Span[] = [];
    const tracer: QueryTracer = {
      startSpan(name, options) {
        const span: Span = { name, attributes: { ...(options?.attributes ?? {}) }, ended: false };
        if (options?.startTime !== undefined) span.startTime = options.startTime;
        spans.push(span);
        return {
          setAttribute: (k, v) => {
            span.attributes[k] = v;
          },
          setStatus: (s) => {
            span.status = s;
          },
          end: () => {
            span.ended = true;
          },
        };
      },
    };
    const controlSchema = uniqueName('octl');
    const pgm = new PgMultiverse({
      tracer,
      enableMigrations: true,
      migrations: { migrationsPath: dir, controlSchema },
    });
    await pgm.initialize(config);
    try {
      const events: QueryExecutedEvent[] = [];
      pgm.on('queryExecuted', (e) => events.push(e));

      pgm.addMigration({
        version: '20240501000000_items',
        targetSchemas: [US, CS],
        async up(ctx) {
          await ctx.query('CREATE TABLE items (id int PRIMARY KEY, n int NOT NULL)');
        },
        async down(ctx) {
          await ctx.query('DROP TABLE items');
        },
      });
      await pgm.migrate();
      const migrationStatements = events.filter((e) => e.reason === 'session' && /CREATE TABLE items/.test(e.sql));
      expect(migrationStatements.map((e) => e.clusterId).sort()).toEqual(['commerce_cluster', 'users_cluster']);
      expect(migrationStatements.every((e) => e.ok && e.role === 'primary' && e.kind === 'write')).toBe(true);

      events.length = 0;
      const before = pgm.getMetrics().totalQueries;
      let txId = '';
      await pgm.withTransaction([US, CS], async (tx) => {
        txId = tx.id;
        for (let i = 1; i <= 5; i++) {
          await tx.query('INSERT INTO items VALUES ($1, $1)', [i], { schema: US });
          await tx.query('INSERT INTO items VALUES ($1, $1)', [i], { schema: CS });
        }
      });
      const inTx = events.filter((e) => e.transactionId === txId);
      const inserts = inTx.filter((e) => e.sql.startsWith('INSERT INTO items'));
      expect(inserts).toHaveLength(10);
      expect(inserts.every((e) => e.ok && e.reason === 'session' && e.role === 'primary')).toBe(true);
      expect(new Set(inserts.map((e) => e.clusterId))).toEqual(new Set(['users_cluster', 'commerce_cluster']));
      // The commit protocol's own statements are observed too (two clusters: PREPARE TRANSACTION).
      expect(inTx.some((e) => /^PREPARE TRANSACTION/.test(e.sql))).toBe(true);
      expect(pgm.getMetrics().totalQueries - before).toBeGreaterThanOrEqual(inTx.length);
      // Statement spans (the transaction's own span carries its id too, without a statement).
      const txSpans = spans.filter(
        (s) => s.attributes['pgm.transaction_id'] === txId && s.attributes['db.query.text'] !== undefined,
      );
      expect(txSpans.filter((s) => String(s.attributes['db.query.text']).startsWith('INSERT INTO items'))).toHaveLength(
        10,
      );
      expect(txSpans.every((s) => s.ended && typeof s.startTime === 'number')).toBe(true);

      // A failing statement in a transaction is observed as failed, with its SQLSTATE.
      events.length = 0;
      await expect(
        pgm.withTransaction([US], async (tx) => {
          await tx.query('INSERT INTO items VALUES (1, 1)', [], { schema: US });
        }),
      ).rejects.toThrow();
      const failed = events.find((e) => e.sql === 'INSERT INTO items VALUES (1, 1)');
      expect(failed).toMatchObject({ ok: false, errorCode: '23505', reason: 'session' });
    } finally {
      await pgm.close();
    }
  });
});
