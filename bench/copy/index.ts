// Sharded COPY FROM STDIN: rows/s of `pgm.copyFrom` into a table sharded over two servers
// (4 hash partitions, each row sent to its shard, both shards streaming in parallel, committed by
// two-phase commit) vs a plain COPY of the same data through pg-copy-streams on a raw pg client into
// one server (the physical limit of one server). Same data, interleaved rounds, alternating which goes
// first; the median ratio and its spread (min..max of the per-round ratios) are quoted.
// Nodes are reached directly (no testkit proxy).
//   node --import tsx bench/copy/index.ts        (ROWS=100000 ROUNDS=5)
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { startTopology } from '@pg-multiverse/testkit';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { PgMultiverse } from 'pg-multiverse';
import { median, round2 } from '../lib/load.js';

const ROWS = Number(process.env.ROWS ?? 100_000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);

const topo = await startTopology({ clusters: { s0: { schemas: ['app'] }, s1: { schemas: ['app'] } } });
try {
  const direct = (id: 's0' | 's1') => {
    const { id: _id, ...c } = topo.config[id]!.primary;
    return { ...c, port: topo.cluster(id).primary.serverPort };
  };
  const [a, b] = [direct('s0'), direct('s1')];
  const ddl = 'CREATE TABLE app.events (id int8, user_id int8 NOT NULL, note text, amount int)';
  for (const node of [a, b]) {
    const c = new pg.Client(node);
    await c.connect();
    await c.query(ddl);
    await c.query('CREATE TABLE app.plain (LIKE app.events)');
    await c.end();
  }
  // The data: ~60 bytes a row, text format, in 64 KB chunks, built once.
  const chunks: Buffer[] = [];
  let text = '';
  for (let i = 1; i <= ROWS; i++) {
    text += `${i}\t${(i * 7919) % 1_000_003}\tsome note about event ${i}\t${i % 1000}\n`;
    if (text.length >= 65_536) {
      chunks.push(Buffer.from(text));
      text = '';
    }
  }
  if (text) chunks.push(Buffer.from(text));
  const bytes = chunks.reduce((n, c) => n + c.length, 0);

  const pgm = new PgMultiverse({ enableMetrics: false });
  await pgm.initialize({
    events: {
      schemas: ['app'],
      primary: a,
      sharding: {
        strategy: 'hash',
        key: 'user_id',
        keyType: 'int8',
        partitions: 4,
        shards: [{ primary: a }, { primary: b }],
      },
    },
  });
  const raw = new pg.Client(a);
  await raw.connect();
  const admin = [new pg.Client(a), new pg.Client(b)];
  for (const c of admin) await c.connect();
  const truncate = () => Promise.all(admin.map((c) => c.query('TRUNCATE app.events, app.plain')));

  const plain = async () => {
    await raw.query('BEGIN');
    await pipeline(Readable.from(chunks), raw.query(copyFrom('COPY app.plain FROM STDIN')));
    await raw.query('COMMIT');
  };
  const sharded = async () => {
    const r = await pgm.copyFrom('events', ['id', 'user_id', 'note', 'amount'], Readable.from(chunks), {
      schema: 'app',
    });
    if (r.rowCount !== ROWS) throw new Error(`copyFrom loaded ${r.rowCount} of ${ROWS} rows`);
  };
  const time = async (fn: () => Promise<void>) => {
    await truncate();
    const t = performance.now();
    await fn();
    return ROWS / ((performance.now() - t) / 1000);
  };

  await time(plain); // warm-up
  await time(sharded);
  const plainRps: number[] = [];
  const shardedRps: number[] = [];
  for (let k = 0; k < ROUNDS; k++) {
    if (k % 2 === 0) {
      plainRps.push(await time(plain));
      shardedRps.push(await time(sharded));
    } else {
      shardedRps.push(await time(sharded));
      plainRps.push(await time(plain));
    }
    console.error(
      `round ${k + 1}: plain ${Math.round(plainRps[k]!)} rows/s, sharded ${Math.round(shardedRps[k]!)} rows/s`,
    );
  }
  const r = shardedRps.map((x, i) => x / plainRps[i]!);
  await truncate();
  await raw.end();
  for (const c of admin) await c.end();
  await pgm.close();
  console.log(
    `COPY ${ROWS} rows (${(bytes / 1e6).toFixed(1)} MB text): plain one server ${Math.round(median(plainRps))} rows/s, ` +
      `sharded over 2 servers ${Math.round(median(shardedRps))} rows/s (median of ${ROUNDS})`,
  );
  console.log(
    JSON.stringify({
      bench: 'copy',
      rows: ROWS,
      rounds: ROUNDS,
      plain_rows_per_s: Math.round(median(plainRps)),
      sharded_rows_per_s: Math.round(median(shardedRps)),
      ratio: round2(median(r)),
      ratio_min: round2(Math.min(...r)),
      ratio_max: round2(Math.max(...r)),
    }),
  );
} finally {
  await topo.stop();
}
