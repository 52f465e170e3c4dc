// The cache through the real facade (PgMultiverse), on the shared topology: reads with
// `cache: true`, writes and transactions through `query()` / `withTransaction()`, several
// instances sharing invalidations through LISTEN/NOTIFY (memory stores) or one Redis store.
// Reads that must see a write ask for the primary (`role: 'primary'`): a replica's lag is not
// what these tests are about (consistency.test.ts is).
import { randomInt } from 'node:crypto';
import { quoteIdent } from '@pg-multiverse/core';
import { uniqueName, withSchemas } from '@pg-multiverse/testkit';
import pg from 'pg';
import {
  type ClusterConfiguration,
  createRedisStore,
  PgMultiverse,
  type PgMultiverseEvents,
  type PgMultiverseOptions,
} from 'pg-multiverse';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

const { config: shared, redisUrl } = inject('pgmTopology');
const US = uniqueName('cache_us'); // on users_cluster
const CS = uniqueName('cache_cs'); // on commerce_cluster
const config: ClusterConfiguration = withSchemas(shared, { users_cluster: [US], commerce_cluster: [CS] });
const ITEMS = `table:${US}.items`;
const ORDERS = `table:${CS}.orders`;

const connOf = (node: unknown): pg.ClientConfig =>
  typeof node === 'string' ? { connectionString: node } : (node as pg.ClientConfig);
const admin = {} as Record<'users_cluster' | 'commerce_cluster', pg.Pool>;

beforeAll(async () => {
  admin.users_cluster = new pg.Pool(connOf(shared.users_cluster!.primary));
  admin.commerce_cluster = new pg.Pool(connOf(shared.commerce_cluster!.primary));
  await admin.users_cluster.query(
    `CREATE SCHEMA ${US}; CREATE TABLE ${US}.items (id int PRIMARY KEY, name text NOT NULL, at timestamptz, big int8, blob bytea)`,
  );
  // gate(k) waits for advisory lock k (a function the router does not know: a read).
  await admin.users_cluster.query(
    `CREATE FUNCTION ${US}.gate(k bigint) RETURNS int LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock_shared(k); RETURN 1; END $$`,
  );
  await admin.users_cluster.query(
    `INSERT INTO ${US}.items VALUES (1, 'one', '2024-01-02T03:04:05Z', 9007199254740993, '\\x00ff'), (2, 'two', NULL, NULL, NULL)`,
  );
  await admin.commerce_cluster.query(
    `CREATE SCHEMA ${CS}; CREATE TABLE ${CS}.orders (id int PRIMARY KEY, total int NOT NULL); INSERT INTO ${CS}.orders VALUES (1, 10)`,
  );
});
afterAll(async () => {
  await admin.users_cluster.query(`DROP SCHEMA IF EXISTS ${US} CASCADE`);
  await admin.commerce_cluster.query(`DROP SCHEMA IF EXISTS ${CS} CASCADE`);
  await admin.users_cluster.end();
  await admin.commerce_cluster.end();
});

async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false): Promise<T> {
  const end = Date.now() + 60_000;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** An initialized facade with the cache on, counting the statements it sends per SQL text. */
async function facade(options: PgMultiverseOptions = {}) {
  const pgm = new PgMultiverse({ enableCache: true, ...options });
  const sent = new Map<string, number>();
  pgm.on('queryExecuted', (e) => e.ok && sent.set(e.sql, (sent.get(e.sql) ?? 0) + 1));
  const events: PgMultiverseEvents['cacheInvalidated'][] = [];
  pgm.on('cacheInvalidated', (e) => events.push(e));
  await pgm.initialize(config);
  return {
    pgm,
    /** How many times `sql` reached a database through this instance. */
    loads: (sql: string) => sent.get(sql) ?? 0,
    /** Invalidations of `tag` this instance applied (`write`: its own writes, `remote`: another instance's). */
    invalidated: (tag: string, source?: string) =>
      events.filter((e) => e.tags.includes(tag) && (source === undefined || e.source === source)),
  };
}

const names = (r: { rows: { name: string }[] }) => r.rows.map((x) => x.name);

describe('caching through PgMultiverse', () => {
  it('serves a cached read, and after a write to the table the reread has the new row', async () => {
    const { pgm, loads } = await facade();
    try {
      const q = 'SELECT name FROM items WHERE id > $1 ORDER BY id';
      const read = () => pgm.query<{ name: string }>(q, [0], { schema: US, cache: true, role: 'primary' });
      expect(names(await read())).toEqual(['one', 'two']);
      expect(names(await read())).toEqual(['one', 'two']);
      expect(loads(q)).toBe(1);
      await pgm.query("INSERT INTO items (id, name) VALUES (3, 'three')", [], { schema: US });
      expect(names(await read())).toEqual(['one', 'two', 'three']);
      expect(loads(q)).toBe(2);
      await pgm.query('DELETE FROM items WHERE id = 3', [], { schema: US });
      expect(names(await read())).toEqual(['one', 'two']);
      expect(pgm.getMetrics().cache).toMatchObject({ hits: 1, misses: 3 });
    } finally {
      await pgm.close();
    }
  });

  it('round-trips PostgreSQL types through the cache (timestamptz, int8, bytea, null), compressed', async () => {
    const { pgm, loads } = await facade({ cache: { enableCompression: true, compressionThreshold: 16 } });
    try {
      const q = 'SELECT id, name, at, big, blob FROM items ORDER BY id';
      const read = () => pgm.query(q, [], { schema: US, cache: true, role: 'primary' });
      const miss = await read();
      const hit = await read();
      expect(loads(q)).toBe(1);
      const rows = hit.rows as { at: Date | null; big: string; blob: Buffer }[];
      expect(rows).toEqual(miss.rows);
      expect(rows[0]!.at).toBeInstanceOf(Date);
      expect(rows[0]!.at!.toISOString()).toBe('2024-01-02T03:04:05.000Z');
      expect(rows[0]!.big).toBe('9007199254740993');
      expect(Buffer.isBuffer(rows[0]!.blob) && [...rows[0]!.blob]).toEqual([0, 255]);
      expect(rows[1]!.at).toBeNull();
      expect(hit.fields.map((f) => f.name)).toEqual(['id', 'name', 'at', 'big', 'blob']);
    } finally {
      await pgm.close();
    }
  });

  it('a transaction invalidates only after COMMIT, and nothing when it rolls back', async () => {
    const { pgm, loads, invalidated } = await facade();
    try {
      const q = 'SELECT name FROM items WHERE id = 2';
      const read = () => pgm.query<{ name: string }>(q, [], { schema: US, cache: true, role: 'primary' });
      expect(names(await read())).toEqual(['two']);
      await expect(
        pgm.withTransaction([US], async (tx) => {
          await tx.query("UPDATE items SET name = 'rolled back' WHERE id = 2", [], { schema: US });
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      expect(invalidated(ITEMS)).toEqual([]);
      expect(names(await read())).toEqual(['two']);
      expect(loads(q)).toBe(1);
      await pgm.withTransaction([US], async (tx) => {
        await tx.query("UPDATE items SET name = 'TWO' WHERE id = 2", [], { schema: US });
        // Written but not committed: the cached answer is still the committed one.
        expect(names(await read())).toEqual(['two']);
        expect(invalidated(ITEMS)).toEqual([]);
      });
      expect(invalidated(ITEMS, 'write')).toHaveLength(1);
      expect(names(await read())).toEqual(['TWO']);
      expect(loads(q)).toBe(2);
      await pgm.query("UPDATE items SET name = 'two' WHERE id = 2", [], { schema: US });
      expect(names(await read())).toEqual(['two']);
    } finally {
      await pgm.close();
    }
  });

  it('drops a fill whose read raced with a committed write (no set-after-invalidate staleness)', async () => {
    const { pgm } = await facade();
    const lock = randomInt(1, 2 ** 31);
    const holder = await admin.users_cluster.connect();
    try {
      // The read takes its snapshot, then waits (in gate) for a lock this test holds until the write committed.
      await holder.query('SELECT pg_advisory_lock($1)', [lock]);
      const q = 'SELECT name, gate($2) AS z FROM items WHERE id = $1';
      const read = () => pgm.query<{ name: string }>(q, [1, lock], { schema: US, cache: true, role: 'primary' });
      const slow = read();
      await until('the read to wait for the lock', async () => {
        const r = await admin.users_cluster.query(
          "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid::bigint = $1",
          [lock],
        );
        return r.rowCount === 1;
      });
      await pgm.query("UPDATE items SET name = 'uno' WHERE id = 1", [], { schema: US });
      await holder.query('SELECT pg_advisory_unlock($1)', [lock]);
      expect(names(await slow)).toEqual(['one']); // read before the write
      expect(names(await read())).toEqual(['uno']); // ... and not stored after its invalidation
      await pgm.query("UPDATE items SET name = 'one' WHERE id = 1", [], { schema: US });
    } finally {
      await holder.query('SELECT pg_advisory_unlock_all()');
      holder.release();
      await pgm.close();
    }
  });

  it('runs one query for 200 concurrent misses of one key', async () => {
    const { pgm, loads } = await facade();
    try {
      const q = 'SELECT count(*)::int AS n FROM items';
      const all = await Promise.all(
        Array.from({ length: 200 }, () => pgm.query(q, [], { schema: US, cache: true, role: 'primary' })),
      );
      expect(loads(q)).toBe(1);
      expect(new Set(all.map((r) => JSON.stringify(r.rows))).size).toBe(1);
    } finally {
      await pgm.close();
    }
  });

  it('invalidateCache({ schema }) and caller tags drop the right entries', async () => {
    const { pgm, loads } = await facade();
    try {
      const tagged = 'SELECT 1 AS one FROM items LIMIT 1';
      const plain = 'SELECT 2 AS two';
      const opts = { schema: US, cache: true, role: 'primary' } as const;
      await pgm.query(tagged, [], { ...opts, tags: ['catalog'] });
      await pgm.query(plain, [], opts);
      expect(await pgm.invalidateCache({ tags: ['catalog'] })).toBe(1);
      await pgm.query(plain, [], opts);
      expect(loads(plain)).toBe(1);
      expect(await pgm.invalidateCache({ schema: US })).toBe(1);
      await pgm.query(plain, [], opts);
      expect(loads(plain)).toBe(2);
      await pgm.query(tagged, [], { ...opts, tags: ['catalog'] });
      expect(loads(tagged)).toBe(2);
    } finally {
      await pgm.close();
    }
  });
});

/**
 * A LISTEN on the cache's notify channel on both clusters' primaries (where the facade's
 * buses publish), recording which cluster carried which payload. `settle()` sends a marker
 * on a private channel to each and waits for it: notifications reach a listener in commit
 * order, so after it everything published before has arrived.
 */
async function observeBuses() {
  const marker = uniqueName('marker');
  const clusters = ['users_cluster', 'commerce_cluster'] as const;
  const seen: { cluster: string; channel: string; payload: string }[] = [];
  const clients = await Promise.all(
    clusters.map(async (cluster) => {
      const c = new pg.Client(connOf(shared[cluster]!.primary));
      await c.connect();
      c.on('notification', (m) => seen.push({ cluster, channel: m.channel, payload: m.payload ?? '' }));
      await c.query(`LISTEN pgm_cache; LISTEN ${quoteIdent(marker)}`);
      return c;
    }),
  );
  let round = 0;
  return {
    /** Clusters whose bus carried a message naming `tag`. */
    carriers: (tag: string) =>
      [
        ...new Set(seen.filter((s) => s.channel === 'pgm_cache' && s.payload.includes(tag)).map((s) => s.cluster)),
      ].sort(),
    async settle() {
      const n = String(++round);
      for (const cluster of clusters) await admin[cluster].query('SELECT pg_notify($1, $2)', [marker, n]);
      await until('the markers', () =>
        clusters.every((cluster) => seen.some((s) => s.cluster === cluster && s.channel === marker && s.payload === n)),
      );
    },
    close: () => Promise.all(clients.map((c) => c.end())),
  };
}

describe('two PgMultiverse instances with memory stores (LISTEN/NOTIFY)', () => {
  it("a write through one invalidates the other's cached read, published on the written cluster's bus", async () => {
    const buses = await observeBuses();
    const a = await facade();
    const b = await facade();
    try {
      const q = 'SELECT total FROM orders WHERE id = 1';
      const read = (x: typeof a) => x.pgm.query<{ total: number }>(q, [], { schema: CS, cache: true });
      expect((await read(a)).rows).toEqual([{ total: 10 }]);
      expect((await read(b)).rows).toEqual([{ total: 10 }]);
      expect((await read(b)).rows).toEqual([{ total: 10 }]);
      expect(b.loads(q)).toBe(1);

      // commerce_cluster is not the first cluster: only the write's clusterId can pick its bus.
      await a.pgm.query('UPDATE orders SET total = 20 WHERE id = 1', [], { schema: CS });
      await until("B's remote invalidation", () => b.invalidated(ORDERS, 'remote').length > 0);
      expect((await read(b)).rows).toEqual([{ total: 20 }]);
      expect(b.loads(q)).toBe(2);
      await buses.settle();
      expect(buses.carriers(ORDERS)).toEqual(['commerce_cluster']);
      // An instance ignores its own messages: once A has B's (published after A's, on the same
      // cluster, so delivered after it), A has had its own, and counted only B's.
      await b.pgm.query('UPDATE orders SET total = 21 WHERE id = 1', [], { schema: CS });
      await until("A's remote invalidation", () => a.invalidated(ORDERS, 'remote').length > 0);
      expect(a.invalidated(ORDERS, 'remote')).toHaveLength(1);
      expect(b.invalidated(ORDERS, 'remote')).toHaveLength(1);

      // A transaction over both clusters: each cluster's tags on that cluster's bus.
      expect((await read(b)).rows).toEqual([{ total: 21 }]);
      await b.pgm.query('SELECT name FROM items WHERE id = 1', [], { schema: US, cache: true, role: 'primary' });
      await a.pgm.withTransaction([US, CS], async (tx) => {
        await tx.query("UPDATE items SET name = 'eins' WHERE id = 1", [], { schema: US });
        await tx.query('UPDATE orders SET total = 30 WHERE id = 1', [], { schema: CS });
      });
      await until("B's remote invalidations", () => b.invalidated(ORDERS, 'remote').length > 1);
      await until("B's remote invalidations", () => b.invalidated(ITEMS, 'remote').length > 0);
      expect((await read(b)).rows).toEqual([{ total: 30 }]);
      expect(
        (await b.pgm.query('SELECT name FROM items WHERE id = 1', [], { schema: US, cache: true, role: 'primary' }))
          .rows,
      ).toEqual([{ name: 'eins' }]);
      await buses.settle();
      expect(buses.carriers(ORDERS)).toEqual(['commerce_cluster']);
      expect(buses.carriers(ITEMS)).toEqual(['users_cluster']);
    } finally {
      await a.pgm.query("UPDATE items SET name = 'one' WHERE id = 1", [], { schema: US });
      await a.pgm.query('UPDATE orders SET total = 10 WHERE id = 1', [], { schema: CS });
      await a.pgm.close();
      await b.pgm.close();
      await buses.close();
    }
  });
});

describe('two PgMultiverse instances on one Redis store', () => {
  it('a write through one invalidates what the other cached; so does an invalidation by key', async () => {
    const prefix = uniqueName('inst');
    const storeA = createRedisStore({ url: redisUrl, prefix });
    const storeB = createRedisStore({ url: redisUrl, prefix });
    const a = await facade({ cache: { store: storeA } });
    const b = await facade({ cache: { store: storeB } });
    try {
      const q = 'SELECT name FROM items WHERE id = $1';
      const read = (x: typeof a) =>
        x.pgm.query<{ name: string }>(q, [1], { schema: US, cache: true, role: 'primary', cacheKey: `${prefix}:k1` });
      expect(names(await read(a))).toEqual(['one']);
      expect(names(await read(b))).toEqual(['one']);
      expect(b.loads(q)).toBe(0); // filled by instance A
      await b.pgm.query("UPDATE items SET name = 'eins' WHERE id = 1", [], { schema: US });
      expect(names(await read(a))).toEqual(['eins']);
      expect(a.loads(q)).toBe(2);
      await a.pgm.query("UPDATE items SET name = 'one' WHERE id = 1", [], { schema: US });
      expect(names(await read(b))).toEqual(['one']);
      expect(b.loads(q)).toBe(1);
      // an explicit invalidation by key on A is seen by B
      expect(names(await read(b))).toEqual(['one']);
      expect(b.loads(q)).toBe(1);
      await a.pgm.invalidateCache({ keys: [`${prefix}:k1`] });
      expect(names(await read(b))).toEqual(['one']);
      expect(b.loads(q)).toBe(2);
    } finally {
      await a.pgm.close();
      await b.pgm.close();
      await storeA.close();
      await storeB.close();
    }
  });
});
