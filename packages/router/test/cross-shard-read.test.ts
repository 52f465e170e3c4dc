import { isPgmError } from '@pg-multiverse/core';
import { uniqueName } from '@pg-multiverse/testkit';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRouter, hashShard, type QueryExecutedEvent, type Router } from '../src/index.js';

/**
 * Cross-shard reads against an oracle: a 4-partition cluster over 2 shard servers (the shared
 * topology's users primary with its 2 streaming replicas, and the commerce primary), and the same
 * rows in one plain table. fast-check generates the rows and the queries (filters, ORDER BY with
 * ties broken by the key, LIMIT/OFFSET, DISTINCT, GROUP BY with count/sum/min/max/avg and HAVING,
 * NULLs) for int8, text and uuid keys; the sharded result must equal the oracle's, row for row
 * (in order where ORDER BY orders fully, as a multiset otherwise).
 */

const ctx = inject('pgmTopology');
const strip = <T extends { id?: string }>({ id: _id, ...n }: T) => n;
const usersPrimary = strip(ctx.config.users_cluster!.primary);
const usersReplicas = (ctx.config.users_cluster!.replicas ?? []).map(strip);
const commercePrimary = strip(ctx.config.commerce_cluster!.primary);

type KeyType = 'int8' | 'text' | 'uuid';
const KEY_TYPES: KeyType[] = ['int8', 'text', 'uuid'];
const schemaOf = Object.fromEntries(KEY_TYPES.map((t) => [t, uniqueName(`xs_${t}`)])) as Record<KeyType, string>;
const oracleOf = Object.fromEntries(KEY_TYPES.map((t) => [t, uniqueName(`xo_${t}`)])) as Record<KeyType, string>;

interface Row {
  id: string;
  grp: string | null;
  n: number | null;
  amount: string | null;
  label: string | null;
}

let router: Router;
/** The session that wrote the rows: sharded reads use it (read-your-writes on every shard, replicas included). */
let session: ReturnType<Router['createSessionToken']>;
const events: QueryExecutedEvent[] = [];

function keyArb(t: KeyType): fc.Arbitrary<string> {
  if (t === 'int8') return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String);
  if (t === 'uuid') return fc.uuid();
  return fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme' }).filter((s) => !s.includes('\u0000'));
}

const rowArb = (t: KeyType): fc.Arbitrary<Row> =>
  fc.record({
    id: keyArb(t),
    grp: fc.option(fc.constantFrom('a', 'b', 'B', 'c', 'é', 'zz'), { freq: 5 }),
    n: fc.option(fc.integer({ min: -50, max: 50 }), { freq: 5 }),
    amount: fc.option(
      fc.integer({ min: -100000, max: 100000 }).map((c) => (c / 100).toFixed(2)),
      { freq: 5 },
    ),
    label: fc.option(fc.string({ maxLength: 6 }), { freq: 4 }),
  });

const COLS = 'id, grp, n, amount, label';

beforeAll(async () => {
  const shardCluster = (t: KeyType) => ({
    schemas: [schemaOf[t]],
    primary: usersPrimary,
    consistencyLevel: 'session' as const,
    sharding: {
      strategy: 'hash' as const,
      key: 'id',
      keyType: t,
      partitions: 4,
      shards: [{ primary: usersPrimary, replicas: usersReplicas }, { primary: commercePrimary }],
    },
  });
  router = createRouter({
    xs_int8: shardCluster('int8'),
    xs_text: shardCluster('text'),
    xs_uuid: shardCluster('uuid'),
    oracle: { schemas: Object.values(oracleOf), primary: commercePrimary },
  });
  router.on('queryExecuted', (e) => events.push(e));
  const ddl = (s: string, t: KeyType) =>
    `CREATE SCHEMA ${s}; CREATE TABLE ${s}.items (id ${t} PRIMARY KEY, grp text, n int4, amount numeric(12,2), label text)`;
  for (const t of KEY_TYPES) {
    for (const p of router.primaries(`xs_${t}`)) await p.query(ddl(schemaOf[t], t));
    await router.primary('oracle').query(ddl(oracleOf[t], t));
  }
  // the rows: generated, unique keys, inserted one by one (each routed by the key in its VALUES)
  for (const t of KEY_TYPES) {
    const rows = fc.sample(fc.uniqueArray(rowArb(t), { minLength: 60, maxLength: 60, selector: (r) => r.id }), {
      numRuns: 1,
      seed: 1616,
    })[0]!;
    session ??= router.createSessionToken();
    await router.runWithSession(session, async () => {
      for (const r of rows) {
        const params = [r.id, r.grp, r.n, r.amount, r.label];
        const w = await router.query(`INSERT INTO items (${COLS}) VALUES ($1, $2, $3, $4, $5)`, params, {
          schema: schemaOf[t],
        });
        const partition = hashShard(r.id, 4, t);
        expect(w.route.shardId).toBe(`shard-${partition % 2}`);
        await router.query(`INSERT INTO items (${COLS}) VALUES ($1, $2, $3, $4, $5)`, params, { schema: oracleOf[t] });
      }
    });
  }
  // every row is on the shard hashShard names: PostgreSQL's own hash partitioning agrees
  for (const t of KEY_TYPES) {
    for (const [i, p] of router.primaries(`xs_${t}`).entries()) {
      const s = schemaOf[t];
      await p.query(`CREATE TABLE ${s}.items_check (id ${t}) PARTITION BY HASH (id)`);
      const r = await p.query<{ total: number; bad: number }>(
        `SELECT count(*)::int AS total, count(*) FILTER (WHERE NOT (satisfies_hash_partition('${s}.items_check'::regclass, 4, ${i}, id) OR satisfies_hash_partition('${s}.items_check'::regclass, 4, ${i + 2}, id)))::int AS bad FROM ${s}.items`,
      );
      expect(r.rows[0]!.total).toBeGreaterThan(5);
      expect(r.rows[0]!.bad).toBe(0);
    }
  }
});

afterAll(async () => {
  await router?.close();
});

/** The rows as comparable JSON (pg returns numeric and int8 as strings, int4 as numbers). */
const rowsOf = (r: { rows: unknown[] }) => r.rows.map((x) => JSON.stringify(x));

async function both(t: KeyType, sql: string, params: unknown[]) {
  const [sharded, oracle] = await Promise.all([
    router.query(sql, params, { schema: schemaOf[t], sessionToken: session }),
    router.query(sql, params, { schema: oracleOf[t] }),
  ]);
  return { sharded, oracle };
}

const filterArb = fc.oneof(
  fc.constant({ sql: '', params: [] as unknown[] }),
  fc.integer({ min: -50, max: 50 }).map((v) => ({ sql: 'WHERE n > $1', params: [v] as unknown[] })),
  fc.constantFrom('a', 'b', 'zz').map((v) => ({ sql: 'WHERE grp = $1', params: [v] as unknown[] })),
  fc.constant({ sql: 'WHERE n IS NULL OR amount IS NULL', params: [] as unknown[] }),
  fc.integer({ min: -1000, max: 1000 }).map((v) => ({ sql: 'WHERE amount < $1', params: [v] as unknown[] })),
);
const dirArb = fc.constantFrom('', ' ASC', ' DESC', ' NULLS FIRST', ' DESC NULLS LAST');
const pageArb = fc.record({
  limit: fc.option(fc.integer({ min: 0, max: 70 }), { nil: undefined }),
  offset: fc.option(fc.integer({ min: 0, max: 70 }), { nil: undefined }),
});

function page(p: { limit: number | undefined; offset: number | undefined }, params: unknown[]): string {
  let s = '';
  if (p.limit !== undefined) {
    params.push(p.limit);
    s += ` LIMIT $${params.length}`;
  }
  if (p.offset !== undefined) s += ` OFFSET ${p.offset}`;
  return s;
}

describe.each(KEY_TYPES)('cross-shard reads equal one database (%s key)', (t) => {
  it('filters, ORDER BY (ties broken by the key), LIMIT/OFFSET: row for row', async () => {
    await fc.assert(
      fc.asyncProperty(
        filterArb,
        fc.constantFrom('n', 'grp', 'amount', 'label', 'id'),
        dirArb,
        pageArb,
        async (f, col, dir, pg) => {
          const params = [...f.params];
          const sql = `SELECT ${COLS} FROM items ${f.sql} ORDER BY ${col}${dir}, id${page(pg, params)}`;
          const { sharded, oracle } = await both(t, sql, params);
          expect(sharded.route.reason).toBe('cross-shard');
          expect(rowsOf(sharded)).toEqual(rowsOf(oracle));
          expect(sharded.fields.map((x) => [x.name, x.dataTypeID])).toEqual(
            oracle.fields.map((x) => [x.name, x.dataTypeID]),
          );
        },
      ),
      { numRuns: 25 },
    );
  });

  it('no ORDER BY: the same rows (as a multiset); count(*) without grouping', async () => {
    await fc.assert(
      fc.asyncProperty(filterArb, async (f) => {
        const { sharded, oracle } = await both(t, `SELECT ${COLS} FROM items ${f.sql}`, f.params);
        expect(rowsOf(sharded).sort()).toEqual(rowsOf(oracle).sort());
        const c = await both(t, `SELECT count(*) FROM items ${f.sql}`, f.params);
        expect(c.sharded.rows).toEqual(c.oracle.rows);
      }),
      { numRuns: 10 },
    );
  });

  it('DISTINCT with ORDER BY over the output and LIMIT/OFFSET', async () => {
    await fc.assert(
      fc.asyncProperty(filterArb, dirArb, pageArb, async (f, dir, pg) => {
        const params = [...f.params];
        const sql = `SELECT DISTINCT grp, n FROM items ${f.sql} ORDER BY grp${dir}, n${dir}${page(pg, params)}`;
        const { sharded, oracle } = await both(t, sql, params);
        expect(rowsOf(sharded)).toEqual(rowsOf(oracle));
      }),
      { numRuns: 20 },
    );
  });

  it('GROUP BY with count/sum/min/max/avg and HAVING, ordered by the group', async () => {
    const havingArb = fc.oneof(
      fc.constant({ sql: '', params: [] as unknown[] }),
      fc.integer({ min: 0, max: 12 }).map((v) => ({ sql: 'HAVING count(*) > $X', params: [v] as unknown[] })),
      fc
        .integer({ min: -30, max: 30 })
        .map((v) => ({ sql: 'HAVING avg(n) >= $X OR max(n) IS NULL', params: [v] as unknown[] })),
      fc
        .integer({ min: -500, max: 500 })
        .map((v) => ({ sql: 'HAVING NOT (sum(amount) < $X)', params: [v] as unknown[] })),
    );
    const groupArb = fc.constantFrom('grp', 'n', 'grp, n');
    await fc.assert(
      fc.asyncProperty(filterArb, groupArb, havingArb, dirArb, pageArb, async (f, g, h, dir, pg) => {
        const params = [...f.params];
        const having = h.params.length > 0 ? h.sql.replace('$X', `$${params.push(...h.params)}`) : h.sql;
        const order = g
          .split(', ')
          .map((c) => `${c}${dir}`)
          .join(', ');
        const sql = `SELECT ${g}, count(*), count(n) AS cn, sum(n) AS sn, min(n) AS mn, max(n) AS xn, avg(n) AS an, sum(amount) AS sa, avg(amount) AS aa, min(label) AS ml, max(label) AS xl FROM items ${f.sql} GROUP BY ${g} ${having} ORDER BY ${order}${page(pg, params)}`;
        const { sharded, oracle } = await both(t, sql, params);
        expect(rowsOf(sharded)).toEqual(rowsOf(oracle));
        expect(sharded.fields.map((x) => [x.name, x.dataTypeID])).toEqual(
          oracle.fields.map((x) => [x.name, x.dataTypeID]),
        );
      }),
      { numRuns: 25 },
    );
  });

  it('aggregates without GROUP BY, and keys on several shards (IN list)', async () => {
    const keys = (
      await router.query<{ id: string }>('SELECT id::text AS id FROM items ORDER BY id LIMIT 6', [], {
        schema: oracleOf[t],
      })
    ).rows.map((r) => r.id);
    await fc.assert(
      fc.asyncProperty(filterArb, fc.subarray(keys, { minLength: 1 }), async (f, ks) => {
        const a = await both(t, `SELECT count(*), sum(n), avg(amount), min(grp), max(n) FROM items ${f.sql}`, f.params);
        expect(rowsOf(a.sharded)).toEqual(rowsOf(a.oracle));
        const list = ks.map((_, i) => `$${i + 1}`).join(', ');
        const b = await both(t, `SELECT ${COLS} FROM items WHERE id IN (${list}) ORDER BY id`, ks);
        expect(rowsOf(b.sharded)).toEqual(rowsOf(b.oracle));
        const shards = new Set(ks.map((k) => `shard-${hashShard(k, 4, t) % 2}`));
        expect(new Set(b.sharded.route.shardIds ?? [b.sharded.route.shardId])).toEqual(shards);
      }),
      { numRuns: 10 },
    );
  });
});

describe('cross-shard reads: refusals, events, partial results', () => {
  const schema = () => schemaOf.int8;
  it.each([
    ['SELECT id, row_number() OVER (ORDER BY id) FROM items', /window function/],
    ['SELECT array_agg(id) FROM items', /array_agg\(\)/],
    ["SELECT string_agg(label, ',') FROM items", /string_agg\(\)/],
    ['SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY n) FROM items', /percentile_cont\(\)|WITHIN GROUP/],
    ['SELECT count(DISTINCT grp) FROM items', /count\(DISTINCT/],
    ['SELECT grp FROM items ORDER BY n', /ORDER BY n.*select list/],
    ['SELECT id FROM items ORDER BY lower(label)', /ORDER BY lower\(label\).*select list/],
    ['SELECT DISTINCT ON (grp) grp, n FROM items ORDER BY grp, n', /DISTINCT ON/],
    ["SELECT * FROM items WHERE n IN (SELECT n FROM items WHERE grp = 'a')", /subquery/],
    ['WITH x AS (SELECT * FROM items) SELECT * FROM x', /WITH/],
    ['SELECT id FROM items UNION SELECT id FROM items', /UNION/],
    ['SELECT a.id FROM items a JOIN items b ON a.n = b.n', /join that is not on the shard key/],
    ['SELECT grp, sum(n) + 1 FROM items GROUP BY grp', /expression over aggregates/],
    ['SELECT grp, n FROM items GROUP BY grp', /neither a GROUP BY key/],
    ['SELECT grp FROM items GROUP BY grp HAVING sum(n) * 2 > 3', /HAVING/],
    ['SELECT count(*) FILTER (WHERE n > 0) FROM items', /FILTER/],
    ['SELECT grp, count(*) FROM items GROUP BY ROLLUP (grp)', /ROLLUP/],
    ['SELECT id FROM items ORDER BY id LIMIT 10 + 1', /LIMIT/],
    ['SELECT id FROM items ORDER BY id FETCH FIRST 3 ROWS WITH TIES', /WITH TIES/],
    ['SELECT pg_catalog.count(*) FROM items', /schema-qualified aggregate/],
    ['SELECT avg(n::real) FROM items', /avg\(\) on a column of type float4/],
    ['SHOW search_path', /SHOW statement/],
  ])('%s: CROSS_SHARD_UNSUPPORTED naming the construct', async (sql, construct) => {
    const err = await router.query(sql, [], { schema: schema() }).catch((e) => e);
    expect(isPgmError(err, 'CROSS_SHARD_UNSUPPORTED')).toBe(true);
    expect(err.message).toMatch(construct);
    expect(err.message).toMatch(/Pass \{ shardKey \}/);
    // the same statement with a shard key runs on one shard
    const one = await router.query(sql, [], { schema: schema(), shardKey: 1 }).catch((e) => e);
    expect(isPgmError(one, 'CROSS_SHARD_UNSUPPORTED')).toBe(false);
  });

  it('ORDER BY a timestamp is refused after the shards answered (microseconds do not survive a Date)', async () => {
    const err = await router
      .query('SELECT now() - make_interval(secs => n) AS at FROM items ORDER BY at', [], { schema: schema() })
      .catch((e) => e);
    expect(isPgmError(err, 'CROSS_SHARD_UNSUPPORTED')).toBe(true);
    expect(err.message).toMatch(/ORDER BY at on a column of type timestamptz/);
  });

  it('a join on the shard key runs on every shard and equals one database', async () => {
    const sql =
      'SELECT a.id, b.n FROM items a JOIN items b ON a.id = b.id WHERE b.n > 0 ORDER BY a.id DESC LIMIT 7 OFFSET 2';
    const { sharded, oracle } = await both('int8', sql, []);
    expect(sharded.route.shardIds).toEqual(['shard-0', 'shard-1']);
    expect(rowsOf(sharded)).toEqual(rowsOf(oracle));
  });

  it('one queryExecuted event for the whole statement, with every shard', async () => {
    events.length = 0;
    const r = await router.query('SELECT count(*) FROM items', [], { schema: schema() });
    expect(r.route.shardIds).toEqual(['shard-0', 'shard-1']);
    const mine = events.filter((e) => e.sql === 'SELECT count(*) FROM items');
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ reason: 'cross-shard', shardIds: ['shard-0', 'shard-1'], ok: true, kind: 'read' });
    expect(mine[0]!.nodeIds).toHaveLength(2);
  });

  it('a shard that cannot answer fails the read, unless allowPartial (marked, never silent)', async () => {
    // a table only shard-0 has: shard-1 answers with an error (42P01)
    const s = schema();
    await router.shardPrimary('xs_int8', 'shard-0').query(`CREATE TABLE ${s}.half (id int8, v int)`);
    await router.shardPrimary('xs_int8', 'shard-0').query(`INSERT INTO ${s}.half VALUES (1, 1), (2, 2)`);
    const err = await router
      .query('SELECT v FROM half ORDER BY v', [], { schema: s, consistency: 'strong' })
      .catch((e) => e);
    expect(err.code).toBe('QUERY_FAILED');
    const partial = await router.query('SELECT v FROM half ORDER BY v', [], {
      schema: s,
      consistency: 'strong',
      allowPartial: true,
    });
    expect(partial.rows).toEqual([{ v: 1 }, { v: 2 }]);
    expect(partial.route).toMatchObject({ partial: true, failedShards: ['shard-1'], shardIds: ['shard-0'] });
    const full = await router.query('SELECT count(*)::int AS c FROM items', [], { schema: s, allowPartial: true });
    expect(full.route.partial).toBeUndefined();
  });
});

describe('cross-shard reads: text order needs the C collation', () => {
  it('ordering text under another database collation is refused, naming it; numbers still merge', async () => {
    const db = uniqueName('xcoll');
    const servers = [usersPrimary, commercePrimary];
    const admins = servers.map((s) => createRouter({ a: { schemas: ['public'], primary: s } }));
    try {
      for (const a of admins) {
        await a
          .primary('a')
          .query(`CREATE DATABASE ${db} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.utf8' LC_CTYPE 'C.utf8'`);
      }
      const r = createRouter({
        c: {
          schemas: ['public'],
          primary: { ...usersPrimary, database: db },
          sharding: {
            strategy: 'hash',
            key: 'id',
            keyType: 'int8',
            partitions: 4,
            shards: servers.map((s) => ({ primary: { ...s, database: db } })),
          },
        },
      });
      try {
        for (const p of r.primaries('c')) await p.query('CREATE TABLE t (id int8, name text)');
        for (let id = 1; id <= 8; id++) {
          await r.query('INSERT INTO t (id, name) VALUES ($1, $2)', [id, `n${id}`], { schema: 'public' });
        }
        const err = await r.query('SELECT id, name FROM t ORDER BY name', [], { schema: 'public' }).catch((e) => e);
        expect(isPgmError(err, 'CROSS_SHARD_UNSUPPORTED')).toBe(true);
        expect(err.message).toMatch(/ordering text.*collation is C\.utf8/);
        const ok = await r.query<{ id: string }>('SELECT id, name FROM t ORDER BY id DESC LIMIT 3', [], {
          schema: 'public',
        });
        expect(ok.rows.map((x) => Number(x.id))).toEqual([8, 7, 6]);
      } finally {
        await r.close();
      }
    } finally {
      for (const a of admins) {
        await a
          .primary('a')
          .query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`)
          .catch(() => undefined);
        await a.close();
      }
    }
  });
});
