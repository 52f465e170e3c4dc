// OpenTelemetry spans with the real SDK (in-memory exporter): database semantic conventions on
// query(), cache hits, errors, transactions (statements as children, 2PC phases) and migrations.
// Shared topology: users_cluster (primary + 2 replicas), commerce_cluster (primary).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { uniqueName, waitForReplicas, withSchemas } from '@pg-multiverse/testkit';
import pg from 'pg';
import { type ClusterConfiguration, PgMultiverse } from 'pg-multiverse';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';

const { config: shared } = inject('pgmTopology');
const US = uniqueName('tu');
const CS = uniqueName('tc');
const config: ClusterConfiguration = withSchemas(shared, { users_cluster: [US], commerce_cluster: [CS] });
const SECRET_PARAM = 'param-value-7d1f3a';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('app');
const contextManager = new AsyncLocalStorageContextManager();
let dir: string;
let pgm: PgMultiverse;

interface NodeCfg {
  host?: string;
  port?: number;
  connectionString?: string;
}
/** host:port of every node of a cluster in the shared configuration, by role. */
function ports(cluster: string): { primary: string; replicas: string[] } {
  const c = shared[cluster] as { primary: NodeCfg | string; replicas?: (NodeCfg | string)[] };
  const hp = (n: NodeCfg | string) => {
    if (typeof n === 'string' || n.connectionString) {
      const u = new URL(typeof n === 'string' ? n : n.connectionString!);
      return `${u.hostname}:${u.port || 5432}`;
    }
    return `${n.host ?? 'localhost'}:${n.port ?? 5432}`;
  };
  return { primary: hp(c.primary), replicas: (c.replicas ?? []).map(hp) };
}
const where = (s: ReadableSpan) => `${s.attributes['server.address']}:${s.attributes['server.port']}`;
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const idOf = (s: ReadableSpan) => s.spanContext().spanId;
const spans = () => exporter.getFinishedSpans();

beforeAll(async () => {
  context.setGlobalContextManager(contextManager.enable());
  dir = await mkdtemp(join(tmpdir(), 'pgm-trace-'));
  const admin = new pg.Pool(shared.users_cluster!.primary as pg.PoolConfig);
  const adminC = new pg.Pool(shared.commerce_cluster!.primary as pg.PoolConfig);
  await admin.query(`CREATE SCHEMA ${US}; CREATE TABLE ${US}.items (id int PRIMARY KEY, name text NOT NULL)`);
  await admin.query(`INSERT INTO ${US}.items VALUES (1, 'one'), (2, 'two')`);
  await adminC.query(
    `CREATE SCHEMA ${CS}; CREATE TABLE ${CS}.ledger (id int PRIMARY KEY, amount int NOT NULL CHECK (amount >= 0))`,
  );
  await admin.end();
  await adminC.end();
  pgm = new PgMultiverse({
    tracer,
    enableCache: true,
    enableMigrations: true,
    migrations: { migrationsPath: dir, controlSchema: uniqueName('tctl') },
  });
  await pgm.initialize(config);
  // Replicas must have replayed the schema before replica reads of it.
  await waitForReplicas(shared.users_cluster!);
});
afterAll(async () => {
  await pgm?.close();
  context.disable();
  await provider.shutdown();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => exporter.reset());

describe('OpenTelemetry spans (database semantic conventions)', () => {
  it('a replica read: CLIENT span named "SELECT items", child of the active span, where it ran, no parameters', async () => {
    await tracer.startActiveSpan('request', async (request) => {
      await pgm.query('SELECT id, name FROM items WHERE name <> $1', [SECRET_PARAM], {
        schema: US,
        consistency: 'eventual',
      });
      request.end();
    });
    const request = spans().find((s) => s.name === 'request')!;
    const q = spans().find((s) => s.attributes['db.query.text'] !== undefined)!;
    expect(q.name).toBe('SELECT items');
    expect(q.kind).toBe(SpanKind.CLIENT);
    expect(parentOf(q)).toBe(idOf(request));
    expect(q.attributes).toMatchObject({
      'db.system.name': 'postgresql',
      'db.system': 'postgresql',
      'db.operation.name': 'SELECT',
      'db.collection.name': 'items',
      'db.query.text': 'SELECT id, name FROM items WHERE name <> $1',
      'pgm.cluster': 'users_cluster',
      'pgm.schema': US,
      'pgm.role': 'replica',
      'pgm.cached': false,
    });
    expect(String(q.attributes['db.namespace'])).toMatch(new RegExp(`^[^.]+\\.${US}$`));
    expect(String(q.attributes['pgm.node'])).toMatch(/^replica-/);
    expect(ports('users_cluster').replicas).toContain(where(q));
    expect(q.status.code).toBe(SpanStatusCode.UNSET);
    expect(JSON.stringify(spans().map((s) => s.attributes))).not.toContain(SECRET_PARAM);
  });

  it('a cache hit says cached and names no server; a write runs on the primary', async () => {
    await pgm.query('SELECT name FROM items WHERE id = 1', [], { schema: US, cache: true, role: 'primary' });
    await pgm.query('SELECT name FROM items WHERE id = 1', [], { schema: US, cache: true, role: 'primary' });
    await pgm.query('INSERT INTO ledger VALUES (1, 10)', [], { schema: CS });
    const [fill, hit, write] = spans();
    expect(fill!.attributes).toMatchObject({ 'pgm.cached': false, 'pgm.role': 'primary' });
    expect(where(fill!)).toBe(ports('users_cluster').primary);
    expect(hit!.attributes['pgm.cached']).toBe(true);
    expect(hit!.attributes['server.address']).toBeUndefined();
    expect(write!.name).toBe('INSERT ledger');
    expect(write!.attributes).toMatchObject({ 'db.operation.name': 'INSERT', 'pgm.cluster': 'commerce_cluster' });
    expect(where(write!)).toBe(ports('commerce_cluster').primary);
  });

  it('an error span: status ERROR, SQLSTATE in db.response.status_code and error.type, the exception recorded', async () => {
    await expect(pgm.query('INSERT INTO ledger VALUES ($1, $2)', [2, -5], { schema: CS })).rejects.toThrow(
      /check constraint/,
    );
    const [s] = spans();
    expect(s!.status.code).toBe(SpanStatusCode.ERROR);
    expect(s!.attributes).toMatchObject({ 'db.response.status_code': '23514', 'error.type': '23514' });
    expect(where(s!)).toBe(ports('commerce_cluster').primary);
    expect(s!.events.some((e) => e.name === 'exception')).toBe(true);
  });

  it('a cross-cluster transaction: its span, statements as children, 2PC phases with their statements', async () => {
    let txId = '';
    await tracer.startActiveSpan('request', async (request) => {
      await pgm.withTransaction([US, CS], async (tx) => {
        txId = tx.id;
        // The callback runs in the transaction's context: the application's spans nest under it.
        tracer.startSpan('inside-callback').end();
        await tx.query('INSERT INTO items VALUES (10, $1)', [SECRET_PARAM], { schema: US });
        await tx.query('INSERT INTO ledger VALUES (10, 1)', [], { schema: CS });
      });
      request.end();
    });
    const all = spans();
    const request = all.find((s) => s.name === 'request')!;
    const txSpan = all.find((s) => s.name === 'pgm.transaction')!;
    expect(parentOf(txSpan)).toBe(idOf(request));
    expect(txSpan.attributes).toMatchObject({
      'pgm.transaction_id': txId,
      'pgm.outcome': 'committed',
      'pgm.two_phase': true,
    });
    expect(parentOf(all.find((s) => s.name === 'inside-callback')!)).toBe(idOf(txSpan));
    const inserts = all.filter((s) => /^INSERT INTO (items|ledger)/.test(String(s.attributes['db.query.text'])));
    expect(inserts.map((s) => s.name).sort()).toEqual(['INSERT items', 'INSERT ledger']);
    for (const s of inserts) {
      expect(parentOf(s)).toBe(idOf(txSpan));
      expect(s.kind).toBe(SpanKind.CLIENT);
      expect(s.attributes['pgm.transaction_id']).toBe(txId);
      expect(s.attributes['pgm.role']).toBe('primary');
    }
    expect(where(inserts.find((s) => s.name === 'INSERT items')!)).toBe(ports('users_cluster').primary);
    expect(where(inserts.find((s) => s.name === 'INSERT ledger')!)).toBe(ports('commerce_cluster').primary);
    const phase = (n: string) => all.find((s) => s.name === `pgm.2pc.${n}`)!;
    for (const n of ['prepare', 'decide', 'commit']) expect(parentOf(phase(n))).toBe(idOf(txSpan));
    // The coordinator cluster's own participant commits plainly (its commit is the decision): one PREPARE.
    const prepares = all.filter((s) => /^PREPARE TRANSACTION/i.test(String(s.attributes['db.query.text'])));
    expect(prepares).toHaveLength(1);
    for (const s of prepares) expect(parentOf(s)).toBe(idOf(phase('prepare')));
    const commits = all.filter((s) => /^COMMIT PREPARED/i.test(String(s.attributes['db.query.text'])));
    expect(commits).toHaveLength(1);
    for (const s of commits) expect(parentOf(s)).toBe(idOf(phase('commit')));
    // The commit decision is written in the decide phase (on the coordinator cluster).
    const decisions = all.filter((s) => parentOf(s) === idOf(phase('decide')));
    expect(decisions.length).toBeGreaterThanOrEqual(1);
    expect(decisions.every((s) => s.kind === SpanKind.CLIENT)).toBe(true);
    // The prepared participants: the coordinator cluster (users_cluster) commits plainly instead.
    expect(phase('prepare').attributes['pgm.participants']).toEqual(['commerce_cluster']);
    expect(JSON.stringify(all.map((s) => s.attributes))).not.toContain(SECRET_PARAM);
  });

  it('a two-phase commit whose PREPARE is refused: the prepare phase and the transaction are errors', async () => {
    await expect(
      pgm.withTransaction([US, CS], async (tx) => {
        // On the prepared participant (not the coordinator cluster, whose commit is plain).
        await tx.query('INSERT INTO items VALUES (20, $1)', ['twenty'], { schema: US });
        await tx.query('CREATE TEMP TABLE scratch (x int)', [], { schema: CS });
      }),
    ).rejects.toThrow(/temporary/);
    const all = spans();
    const txSpan = all.find((s) => s.name === 'pgm.transaction')!;
    const prepare = all.find((s) => s.name === 'pgm.2pc.prepare')!;
    expect(parentOf(prepare)).toBe(idOf(txSpan));
    expect(prepare.status.code).toBe(SpanStatusCode.ERROR);
    expect(all.some((s) => s.name === 'pgm.2pc.decide')).toBe(false);
    const refused = all.filter(
      (s) =>
        /^PREPARE TRANSACTION/i.test(String(s.attributes['db.query.text'])) && s.status.code === SpanStatusCode.ERROR,
    );
    expect(refused).toHaveLength(1);
    expect(parentOf(refused[0]!)).toBe(idOf(prepare));
    expect(refused[0]!.attributes['db.response.status_code']).toBe('0A000');
    expect(txSpan.status.code).toBe(SpanStatusCode.ERROR);
    expect(txSpan.attributes).toMatchObject({ 'pgm.outcome': 'rolled_back', 'pgm.rollback_reason': 'prepare_failed' });
  });

  it('a failed transaction: the failing statement and the transaction span are errors', async () => {
    await expect(
      pgm.withTransaction([CS], async (tx) => {
        await tx.query('INSERT INTO ledger VALUES (1, 1)', [], { schema: CS });
      }),
    ).rejects.toThrow();
    const all = spans();
    const txSpan = all.find((s) => s.name === 'pgm.transaction')!;
    const failed = all.find((s) => s.attributes['db.query.text'] === 'INSERT INTO ledger VALUES (1, 1)')!;
    expect(parentOf(failed)).toBe(idOf(txSpan));
    expect(failed.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed.attributes).toMatchObject({ 'db.response.status_code': '23505', 'error.type': '23505' });
    expect(txSpan.status.code).toBe(SpanStatusCode.ERROR);
    expect(txSpan.attributes).toMatchObject({ 'pgm.outcome': 'rolled_back', 'pgm.rollback_reason': 'error' });
  });

  it('a migration: one span per target, its statements as children', async () => {
    pgm.addMigration({
      version: '20240601000000_notes',
      targetSchemas: [US, CS],
      async up(ctx) {
        await ctx.query('CREATE TABLE notes (id int PRIMARY KEY)');
      },
      async down(ctx) {
        await ctx.query('DROP TABLE notes');
      },
    });
    await pgm.migrate();
    const all = spans();
    const steps = all.filter((s) => s.name === 'pgm.migration.up');
    expect(steps.map((s) => s.attributes['pgm.cluster']).sort()).toEqual(['commerce_cluster', 'users_cluster']);
    for (const step of steps) {
      expect(step.attributes['pgm.migration.version']).toBe('20240601000000_notes');
      const creates = all.filter(
        (s) =>
          s.attributes['db.query.text'] === 'CREATE TABLE notes (id int PRIMARY KEY)' && parentOf(s) === idOf(step),
      );
      expect(creates).toHaveLength(1);
      expect(creates[0]!.attributes['pgm.cluster']).toBe(step.attributes['pgm.cluster']);
    }

    // A failing step: its span is an error, and so is the failing statement under it.
    exporter.reset();
    pgm.addMigration({
      version: '20240602000000_broken',
      targetSchemas: [CS],
      async up(ctx) {
        await ctx.query('ALTER TABLE no_such_table ADD COLUMN x int');
      },
    });
    await expect(pgm.migrate()).rejects.toThrow();
    const failed = spans().find((s) => s.name === 'pgm.migration.up')!;
    expect(failed.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed.attributes['pgm.migration.version']).toBe('20240602000000_broken');
    const statement = spans().find(
      (s) => s.attributes['db.query.text'] === 'ALTER TABLE no_such_table ADD COLUMN x int',
    )!;
    expect(parentOf(statement)).toBe(idOf(failed));
    expect(statement.attributes['db.response.status_code']).toBe('42P01');
  });

  it('tracing: false makes no spans; a tracer with tracing: false is refused', async () => {
    const off = new PgMultiverse({ tracing: false });
    await off.initialize(config);
    try {
      await trace.getTracer('x').startActiveSpan('r', async (r) => {
        await off.query('SELECT 1', [], { schema: US });
        r.end();
      });
    } finally {
      await off.close();
    }
    expect(spans().filter((s) => s.attributes['db.system.name'] !== undefined)).toHaveLength(0);
    expect(() => new PgMultiverse({ tracing: false, tracer })).toThrow(/tracer/);
  });

  it('the global tracer (no tracer option): no spans while no SDK is registered, spans once one is', async () => {
    // Before an SDK registers, query() skips the API's no-op span; registering one later takes effect
    // at the next statement (OpenTelemetry's ProxyTracerProvider delegates from then on).
    const global = new PgMultiverse();
    await global.initialize(config);
    try {
      await global.query('SELECT 1 AS before_sdk', [], { schema: US });
      expect(spans()).toHaveLength(0);
      expect(trace.setGlobalTracerProvider(provider)).toBe(true);
      await global.query('SELECT 1 AS after_sdk', [], { schema: US });
      await global.withTransaction([US], async (tx) => {
        await tx.query(`SELECT count(*) FROM ${US}.items`, [], { schema: US });
      });
    } finally {
      trace.disable();
      await global.close();
    }
    const texts = spans().map((s) => s.attributes['db.query.text']);
    expect(texts).not.toContain('SELECT 1 AS before_sdk');
    const after = spans().find((s) => s.attributes['db.query.text'] === 'SELECT 1 AS after_sdk')!;
    expect(after.kind).toBe(SpanKind.CLIENT);
    expect(after.attributes['pgm.schema']).toBe(US);
    expect(texts).toContain(`SELECT count(*) FROM ${US}.items`);
  });
});
