// @pg-multiverse/cache against raw pg.Pool, same run, same server:
//   latency     one query at a time: raw pool.query vs a cache hit (keyFor + tagsFor + wrap), memory store
//               (default, and hotEntries: 0 = decode on every hit) and Redis store
//   throughput  CONCURRENCY callers for DURATION_MS: raw vs memory hit vs Redis hit
//   memory      heap + buffers per 10k cached 10-row results (plain and compressed)
//   stampede    1,000 concurrent misses of one key -> queries run (memory and Redis)
//   offload     serialise + compress a large result on the main thread vs in a worker thread
// Medians of ROUNDS. Last line: {"bench":"cache", ..., "ratio": hit latency / raw round trip}.
//   node --import tsx bench/cache/index.ts
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { createMemoryStore, createQueryCache, createRedisStore, encodeValue } from '@pg-multiverse/cache';
import { startTopology } from '@pg-multiverse/testkit';
import pg from 'pg';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const settle = async () => {
  gc();
  await new Promise((r) => setTimeout(r, 50));
  gc();
};

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const DURATION_MS = Number(process.env.DURATION_MS ?? 2000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);
const LATENCY_OPS = Number(process.env.LATENCY_OPS ?? 2000);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

const topo = await startTopology({ clusters: { c1: { schemas: ['bench'] } }, redis: true });
try {
  const node = topo.cluster('c1').primary;
  const c = topo.config.c1!.primary;
  // Straight to the server, not through the testkit's fault-injection proxy (which runs in this process).
  const pool = new pg.Pool({
    host: node.host,
    port: node.serverPort,
    database: c.database,
    user: c.user,
    max: CONCURRENCY,
  });
  pool.on('error', () => {}); // idle connections dropped when the topology stops
  await pool.query(
    `CREATE TABLE bench.items (id int PRIMARY KEY, name text, email text, created_at timestamptz, score int8)`,
  );
  await pool.query(
    `INSERT INTO bench.items SELECT g, 'name ' || g, 'user' || g || '@example.com', now(), g * 1000 FROM generate_series(1, 1000) g`,
  );
  const SQL = 'SELECT id, name, email, created_at, score FROM bench.items WHERE id BETWEEN $1 AND $1 + 9';
  const raw = () => pool.query(SQL, [1]);

  const memCache = createQueryCache({ maxSize: 50_000 });
  const coldCache = createQueryCache({ maxSize: 50_000, hotEntries: 0 }); // decodes on every hit
  const redisStore = createRedisStore({ url: topo.redis!.url, prefix: 'bench' });
  const redisCache = createQueryCache({ store: redisStore });
  const cachedRead = (cache: typeof memCache, params: unknown[] = [1]) => {
    const key = cache.keyFor({ clusterId: 'c1', schema: 'bench', searchPath: 'bench', sql: SQL, params });
    const tags = cache.tagsFor({ schema: 'bench', sql: SQL });
    return cache.wrap(key, { ttlMs: 600_000, tags, schema: 'bench' }, () => pool.query(SQL, params));
  };
  const memHit = () => cachedRead(memCache);
  const coldHit = () => cachedRead(coldCache);
  await coldHit();
  const redisHit = () => cachedRead(redisCache);
  await memHit();
  await redisHit();
  if (!(await memHit()).hit || !(await redisHit()).hit) throw new Error('expected hits');

  // ---- latency (sequential) ----
  const latency = async (fn: () => Promise<unknown>) => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < LATENCY_OPS; i++) await fn();
    return Number(process.hrtime.bigint() - t0) / 1000 / LATENCY_OPS; // us per op
  };
  // ---- throughput (concurrent) ----
  const throughput = async (fn: () => Promise<unknown>) => {
    let ops = 0;
    const end = Date.now() + DURATION_MS;
    const worker = async () => {
      while (Date.now() < end) {
        await fn();
        ops++;
      }
    };
    const t0 = Date.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    return (ops * 1000) / (Date.now() - t0);
  };

  const lat = { raw: [] as number[], mem: [] as number[], cold: [] as number[], redis: [] as number[] };
  const tput = { raw: [] as number[], mem: [] as number[], redis: [] as number[] };
  await latency(raw);
  for (let r = 0; r < ROUNDS; r++) {
    lat.raw.push(await latency(raw));
    lat.mem.push(await latency(memHit));
    lat.cold.push(await latency(coldHit));
    lat.redis.push(await latency(redisHit));
    tput.raw.push(await throughput(raw));
    tput.mem.push(await throughput(memHit));
    tput.redis.push(await throughput(redisHit));
  }

  // ---- memory per 10k entries ----
  const rowsOf = (await raw()).rows;
  const memoryFor = async (enableCompression: boolean) => {
    const store = createMemoryStore({ maxSize: 20_000, maxBytes: 1024 * 1024 * 1024 });
    const cache = createQueryCache({ store, enableCompression, compressionThreshold: 256 });
    await settle();
    const before = process.memoryUsage();
    for (let i = 0; i < 10_000; i++) {
      const params = [i];
      const key = cache.keyFor({ clusterId: 'c1', schema: 'bench', sql: SQL, params });
      const result = {
        command: 'SELECT',
        rowCount: rowsOf.length,
        rows: rowsOf.map((x) => ({ ...x, id: x.id + i })),
        fields: [],
      };
      await cache.wrap(key, { ttlMs: 600_000, tags: cache.tagsFor({ schema: 'bench', sql: SQL }) }, async () => result);
    }
    await settle();
    const after = process.memoryUsage();
    // JS objects (heap) + Buffers outside the heap (external)
    const used = after.heapUsed - before.heapUsed + (after.external - before.external);
    const out = { bytesPer10k: used, storeBytes: store.stats().bytes, items: store.stats().itemCount };
    await cache.close();
    return out;
  };
  const memPlain = await memoryFor(false);
  const memZ = await memoryFor(true);

  // ---- stampede ----
  const stampede = async (cache: typeof memCache) => {
    let queries = 0;
    const key = `stampede-${Math.random()}`;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 1000 }, () =>
        cache.wrap(key, { ttlMs: 60_000, tags: ['table:bench.items'] }, async () => {
          queries++;
          return pool.query('SELECT count(*)::int AS n, pg_sleep(0.05) FROM bench.items');
        }),
      ),
    );
    return { queries, ms: round(performance.now() - t0, 1) };
  };
  const stampedeMem = await stampede(memCache);
  const stampedeRedis = await stampede(redisCache);

  // ---- offload: main thread vs worker for a large result ----
  const big = {
    command: 'SELECT',
    rowCount: 20_000,
    rows: Array.from({ length: 20_000 }, (_, i) => ({
      id: i,
      name: `name ${i}`,
      email: `u${i}@example.com`,
      at: new Date(),
      score: String(i * 1000),
    })),
    fields: [],
  };
  const w = new Worker(new URL('./offload-worker.mjs', import.meta.url));
  const viaWorker = () =>
    new Promise<ArrayBuffer>((resolve) => {
      w.once('message', resolve);
      w.postMessage(big);
    });
  const offMain: number[] = [];
  const offWorker: number[] = [];
  const bigBytes = encodeValue(big, { enableCompression: true }).bytes.length;
  await viaWorker();
  for (let r = 0; r < ROUNDS; r++) {
    let t = performance.now();
    encodeValue(big, { enableCompression: true });
    offMain.push(performance.now() - t);
    t = performance.now();
    await viaWorker();
    offWorker.push(performance.now() - t);
  }
  await w.terminate();

  const rawUs = median(lat.raw);
  const memUs = median(lat.mem);
  const redisUs = median(lat.redis);
  const result = {
    bench: 'cache',
    concurrency: CONCURRENCY,
    rounds: ROUNDS,
    raw_latency_us: round(rawUs, 1),
    hit_latency_us_memory: round(memUs, 1),
    hit_latency_us_memory_decode_each_hit: round(median(lat.cold), 1),
    hit_latency_us_redis: round(redisUs, 1),
    hit_cost_pct_of_round_trip: round((memUs / rawUs) * 100, 2),
    raw_qps: Math.round(median(tput.raw)),
    hit_qps_memory: Math.round(median(tput.mem)),
    hit_qps_redis: Math.round(median(tput.redis)),
    memory_bytes_per_10k_entries: memPlain.bytesPer10k,
    memory_bytes_per_10k_entries_compressed: memZ.bytesPer10k,
    store_bytes_per_10k: memPlain.storeBytes,
    store_bytes_per_10k_compressed: memZ.storeBytes,
    stampede_1000_queries_memory: stampedeMem.queries,
    stampede_1000_queries_redis: stampedeRedis.queries,
    stampede_ms_memory: stampedeMem.ms,
    stampede_ms_redis: stampedeRedis.ms,
    offload_rows: big.rowCount,
    offload_compressed_bytes: bigBytes,
    offload_main_thread_ms: round(median(offMain), 1),
    offload_worker_ms: round(median(offWorker), 1),
    ratio: round(memUs / rawUs, 4),
  };
  await memCache.close();
  await coldCache.close();
  await redisCache.close();
  await redisStore.close();
  await pool.end();
  console.log(JSON.stringify(result));
} finally {
  await topo.stop();
}
