// Online partition moves (@pg-multiverse/reshard through the facade), same run, same servers:
//   raw    a client copying the partition's rows with plain pg (batched SELECT on the source,
//          INSERT ... SELECT unnest on the target): the physical limit of a copy through a client
//   move   pgm.movePartitions: publication with a row filter, subscription, catch-up, cutover,
//          cleanup; rows/s of the copy phase (subscription created -> cutover starts)
// Under load: WRITERS writers insert and update keys of the moving partition during every move;
// the write hold of each cutover and the latency of the writes issued while it lasted.
// Rounds alternate the direction (shard-0 -> shard-1, then back), raw and move interleaved.
//   node --import tsx bench/reshard/index.ts
import { performance } from 'node:perf_hooks';
import { startTopology } from '@pg-multiverse/testkit';
import pg from 'pg';
import { hashShard, PgMultiverse } from 'pg-multiverse';
import { median, round2 } from '../lib/load.js';

const ROUNDS = Number(process.env.ROUNDS ?? 4);
const ROWS = Number(process.env.ROWS ?? 100_000);
const WRITERS = Number(process.env.WRITERS ?? 8);
const PARTITIONS = 8;
const MOVING = 0;

const topo = await startTopology({
  clusters: { s0: {}, s1: {} },
  settings: { wal_level: "'logical'" },
});
const pools: pg.Pool[] = [];
try {
  const node = (id: string) => {
    const { id: _id, ...n } = topo.config[id]!.primary;
    return n;
  };
  const admin = (id: string) => {
    const p = new pg.Pool({ host: '127.0.0.1', port: topo.cluster(id).primary.serverPort, user: 'postgres', max: 4 });
    pools.push(p);
    return p;
  };
  const shards = { 'shard-0': admin('s0'), 'shard-1': admin('s1') };
  const table = `CREATE TABLE IF NOT EXISTS app.orders (user_id int8 NOT NULL, id int8 NOT NULL, v int NOT NULL DEFAULT 0, note text, PRIMARY KEY (user_id, id))`;
  for (const p of Object.values(shards)) {
    await p.query(
      `CREATE SCHEMA IF NOT EXISTS app; ${table}; CREATE SCHEMA IF NOT EXISTS scratch; CREATE TABLE IF NOT EXISTS scratch.raw_copy (LIKE app.orders)`,
    );
    await p.query(
      'CREATE SCHEMA IF NOT EXISTS pgm_reshard; CREATE TABLE IF NOT EXISTS pgm_reshard.hash_int8 (k int8) PARTITION BY HASH (k)',
    );
  }
  const filter = `satisfies_hash_partition('pgm_reshard.hash_int8'::regclass::oid, ${PARTITIONS}, ${MOVING}, user_id)`;
  // ~ROWS rows in the moving partition (10 per key), on its first owner.
  await shards['shard-0'].query(
    `INSERT INTO app.orders (user_id, id, v, note)
     SELECT k, g, 0, md5(k::text || g) FROM generate_series(1, ${Math.ceil((ROWS / 10) * PARTITIONS)}) k, generate_series(1, 10) g
     WHERE satisfies_hash_partition('pgm_reshard.hash_int8'::regclass::oid, ${PARTITIONS}, ${MOVING}, k::int8)`,
  );
  const rows = Number(
    (await shards['shard-0'].query(`SELECT count(*) AS n FROM app.orders WHERE ${filter}`)).rows[0].n,
  );

  const config = {
    orders: {
      schemas: ['app'],
      primary: node('s0'),
      sharding: {
        strategy: 'hash' as const,
        key: 'user_id',
        keyType: 'int8' as const,
        partitions: PARTITIONS,
        shards: [
          { id: 'shard-0', primary: node('s0'), partitions: [0, 2, 4, 6] },
          { id: 'shard-1', primary: node('s1'), partitions: [1, 3, 5, 7] },
        ],
      },
    },
  };
  const pgm = new PgMultiverse({ enableMetrics: false, enableTransactions: false });
  await pgm.initialize(config);

  const keys: number[] = [];
  for (let k = 1_000_000; keys.length < 64; k++) if (hashShard(k, PARTITIONS, 'int8') === MOVING) keys.push(k);

  /** Raw client copy of the moving partition's rows from one server to the other (scratch table). */
  const rawCopy = async (from: pg.Pool, to: pg.Pool) => {
    await to.query('TRUNCATE scratch.raw_copy');
    const t0 = performance.now();
    let last: [string, string] = ['-9223372036854775808', '0'];
    let copied = 0;
    for (;;) {
      const r = await from.query<{ user_id: string; id: string; v: number; note: string }>(
        `SELECT user_id, id, v, note FROM app.orders WHERE ${filter} AND (user_id, id) > ($1::int8, $2::int8) ORDER BY user_id, id LIMIT 10000`,
        last,
      );
      if (r.rows.length === 0) break;
      await to.query(
        'INSERT INTO scratch.raw_copy SELECT * FROM unnest($1::int8[], $2::int8[], $3::int[], $4::text[])',
        [r.rows.map((x) => x.user_id), r.rows.map((x) => x.id), r.rows.map((x) => x.v), r.rows.map((x) => x.note)],
      );
      copied += r.rows.length;
      const end = r.rows[r.rows.length - 1]!;
      last = [end.user_id, end.id];
    }
    const secs = (performance.now() - t0) / 1000;
    await to.query('TRUNCATE scratch.raw_copy');
    return copied / secs;
  };

  const rawRates: number[] = [];
  const moveRates: number[] = [];
  const holds: number[] = [];
  const stepTimes: Record<string, number[]> = { acquireMs: [], fenceMs: [], catchUpMs: [], commitMs: [] };
  const heldWrites: number[] = [];
  let writeErrors = 0;
  let owner: 'shard-0' | 'shard-1' = 'shard-0';
  for (let round = 0; round < ROUNDS; round++) {
    const other = owner === 'shard-0' ? 'shard-1' : 'shard-0';
    rawRates.push(await rawCopy(shards[owner], shards[other]));

    const times: Record<string, number> = {};
    const onState = (m: { state: string }) => {
      times[m.state] = performance.now();
    };
    pgm.on('moveStateChanged', onState);
    let stop = false;
    const writes: Array<{ start: number; ms: number }> = [];
    const writer = async (w: number) => {
      let seq = 0;
      while (!stop) {
        const key = keys[(w + seq * WRITERS) % keys.length]!;
        const start = performance.now();
        try {
          await pgm.query(
            'INSERT INTO orders (user_id, id, v) VALUES ($1, $2, 0) ON CONFLICT (user_id, id) DO UPDATE SET v = orders.v + 1',
            [key, 1_000_000 + round * 100_000 + w * 10_000 + (seq++ % 50)],
            { schema: 'app', shardKey: key },
          );
          writes.push({ start, ms: performance.now() - start });
        } catch {
          writeErrors++;
        }
      }
    };
    const load = Array.from({ length: WRITERS }, (_, w) => writer(w));
    const report = await pgm.movePartitions({
      cluster: 'orders',
      partitions: [MOVING],
      to: other,
      progressIntervalMs: 100,
      cleanupDelayMs: 1000,
    });
    stop = true;
    await Promise.all(load);
    pgm.off('moveStateChanged', onState);
    const m = report.moves[0]!;
    moveRates.push(m.rowsCopied / ((times.fencing! - times.copying!) / 1000));
    holds.push(m.cutover.holdMs);
    for (const [k, v] of Object.entries(m.cutover.steps)) stepTimes[k]!.push(v);
    // Writes issued while the hold lasted (the engine reports its window on the same clock).
    const { from, to } = m.cutover.window;
    for (const w of writes) {
      const at = performance.timeOrigin + w.start;
      if (at >= from && at <= to) heldWrites.push(w.ms);
    }
    owner = other;
  }
  await pgm.close();

  const pct = (xs: number[], p: number) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length ? s[Math.min(s.length - 1, Math.floor(s.length * p))]! : 0;
  };
  const spread = (xs: number[]) => round2((Math.max(...xs) - Math.min(...xs)) / median(xs));
  const raw = median(rawRates);
  const move = median(moveRates);
  console.log(
    `copy of ${rows} rows (median of ${ROUNDS}): raw client copy ${raw.toFixed(0)} rows/s, move (logical replication) ${move.toFixed(0)} rows/s; ` +
      `write hold per cutover p50 ${pct(holds, 0.5).toFixed(1)} ms p99 ${pct(holds, 0.99).toFixed(1)} ms; ` +
      `writes issued during a hold (${heldWrites.length}) p50 ${pct(heldWrites, 0.5).toFixed(1)} ms p99 ${pct(heldWrites, 0.99).toFixed(1)} ms; ${WRITERS} writers, write errors ${writeErrors}`,
  );
  console.log(
    JSON.stringify({
      bench: 'reshard',
      rows,
      rounds: ROUNDS,
      writers: WRITERS,
      raw_rows_per_s: Math.round(raw),
      move_rows_per_s: Math.round(move),
      raw_spread: spread(rawRates),
      move_spread: spread(moveRates),
      hold_p50_ms: round2(pct(holds, 0.5)),
      hold_p99_ms: round2(pct(holds, 0.99)),
      held_write_p50_ms: round2(pct(heldWrites, 0.5)),
      held_write_p99_ms: round2(pct(heldWrites, 0.99)),
      held_writes: heldWrites.length,
      hold_steps_median_ms: Object.fromEntries(Object.entries(stepTimes).map(([k, v]) => [k, round2(median(v))])),
      write_errors: writeErrors,
      ratio: round2(move / raw),
    }),
  );
} finally {
  for (const p of pools) await p.end().catch(() => {});
  await topo.stop();
}
