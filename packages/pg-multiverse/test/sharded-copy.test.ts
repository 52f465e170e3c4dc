import { Readable } from 'node:stream';
import { hashShard } from '@pg-multiverse/router';
import { uniqueName } from '@pg-multiverse/testkit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PgMultiverse } from '../src/index.js';
import { misplacedRows, twoShards } from './fixtures/two-shards.js';

// Sharded COPY FROM STDIN through the facade: a 4-partition cluster over two real servers
// (partition p on shard-(p % 2)); PostgreSQL itself checks where each row landed.
const schema = uniqueName('fcopy');
const { admin, config, serverA, counts, ...cluster } = twoShards(inject('pgmTopology'), schema);
let pgm: PgMultiverse;

const misplaced = (s: 0 | 1, table: string) => misplacedRows(admin[s], schema, table, s);

beforeAll(async () => {
  // pt: an empty hash-partitioned table whose partitioning satisfies_hash_partition checks against.
  await cluster.create();
  for (const p of admin) {
    await p.query(
      `CREATE TABLE ${schema}.events (id int PRIMARY KEY, user_id int8 NOT NULL, note text, amount int CHECK (amount >= 0))`,
    );
  }
  pgm = new PgMultiverse({ enableCache: true });
  await pgm.initialize(config);
});

afterAll(async () => {
  await pgm?.close();
  await cluster.drop();
});

/** 100,000 rows in `format`, in chunks of ~1000 rows (chunk borders fall mid-row). */
function* dataOf(n: number, format: 'text' | 'csv', bad?: number): Generator<string> {
  let chunk = '';
  for (let i = 1; i <= n; i++) {
    const userId = (i * 7919) % 50_000;
    const amount = i === bad ? -1 : i % 100;
    const note = i % 10 === 0 ? null : `note ${i}, "q"\t\\`;
    if (format === 'text') {
      const esc = note === null ? '\\N' : note.replace(/\\/g, '\\\\').replace(/\t/g, '\\t');
      chunk += `${i}\t${userId}\t${esc}\t${amount}\n`;
    } else {
      const q = note === null ? '' : `"${note.replace(/"/g, '""')}"`;
      chunk += `${i},${userId},${q},${amount}\n`;
    }
    if (chunk.length > 40_000) {
      const cut = 17;
      yield chunk.slice(0, cut);
      chunk = chunk.slice(cut);
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

describe('copyFrom on a sharded cluster', () => {
  it('loads 100,000 text rows, each on the shard hashShard names, counted per shard', async () => {
    const seen: Array<{ reason: string; shardIds?: string[]; kind: string; ok: boolean }> = [];
    pgm.on('queryExecuted', (e) => seen.push(e));
    const writesBefore = pgm.getMetrics().clusters.orders_cluster!.queries.writes;
    const res = await pgm.copyFrom(
      'events',
      ['id', 'user_id', 'note', 'amount'],
      Readable.from(dataOf(100_000, 'text')),
      { schema },
    );
    const expected = { 'shard-0': 0, 'shard-1': 0 };
    for (let i = 1; i <= 100_000; i++) {
      const p = hashShard((i * 7919) % 50_000, 4, 'int8');
      expected[`shard-${p % 2}` as 'shard-0']++;
    }
    expect(res).toEqual({ clusterId: 'orders_cluster', rowCount: 100_000, shards: expected });
    // one event and one counted write for the whole COPY, naming the shards
    expect(seen).toEqual([
      expect.objectContaining({ reason: 'cross-shard', kind: 'write', ok: true, shardIds: ['shard-0', 'shard-1'] }),
    ]);
    expect(pgm.getMetrics().clusters.orders_cluster!.queries.writes).toBe(writesBefore + 1);
    expect(await counts('events')).toEqual([expected['shard-0'], expected['shard-1']]);
    expect([await misplaced(0, 'events'), await misplaced(1, 'events')]).toEqual([0, 0]);
    // nothing duplicated, values intact (escapes, NULLs)
    const [a, b] = await Promise.all(
      admin.map((p) =>
        p.query<{ ids: number; nulls: number; sample: string | null }>(
          `SELECT count(DISTINCT id)::int AS ids, count(*) FILTER (WHERE note IS NULL)::int AS nulls,
                  max(note) FILTER (WHERE id = 7) AS sample FROM ${schema}.events`,
        ),
      ),
    );
    expect(a!.rows[0]!.ids + b!.rows[0]!.ids).toBe(100_000);
    expect(a!.rows[0]!.nulls + b!.rows[0]!.nulls).toBe(10_000);
    expect([a!.rows[0]!.sample, b!.rows[0]!.sample]).toContain('note 7, "q"\t\\');
  });

  it('a row that fails on one shard leaves every shard unchanged (text and csv)', async () => {
    await Promise.all(admin.map((p) => p.query(`TRUNCATE ${schema}.events`)));
    for (const format of ['text', 'csv'] as const) {
      // the bad row comes late: both shards have streamed most of their rows by then
      const err = await pgm
        .copyFrom('events', ['id', 'user_id', 'note', 'amount'], Readable.from(dataOf(20_000, format, 19_990)), {
          schema,
          format,
        })
        .catch((e) => e);
      expect(err).toBeInstanceOf(Error);
      expect(String(err.message)).toMatch(/amount_check|violates check constraint/);
      expect(await counts('events')).toEqual([0, 0]);
    }
  });

  it('csv with a header; refuses data without the key, rows with a NULL key, unknown options', async () => {
    const res = await pgm.copyFrom(
      'events',
      ['id', 'user_id', 'note', 'amount'],
      Readable.from(['id,user_id,note,amount\n1,1,"a,b",1\n2,2,,2\n3,3,"x', 'y",3']),
      { schema, format: 'csv', header: true },
    );
    expect(res.rowCount).toBe(3);
    const notes = await pgm.query<{ note: string | null }>('SELECT note FROM events WHERE user_id = $1', [3], {
      schema,
      shardKey: 3,
      role: 'primary',
    });
    expect(notes.rows).toEqual([{ note: 'xy' }]);
    await expect(pgm.copyFrom('events', ['id', 'note'], Readable.from(['1\tx\n']), { schema })).rejects.toMatchObject({
      code: 'SHARD_KEY_REQUIRED',
      message: expect.stringMatching(/sharded by "user_id".*must include it/),
    });
    await expect(
      pgm.copyFrom('events', ['id', 'user_id'], Readable.from(['10\t5\n11\t\\N\n']), { schema }),
    ).rejects.toThrow(/null value in column "user_id"/); // partition 0, as PostgreSQL places a NULL key
    await expect(
      pgm.copyFrom('events', ['id', 'user_id'], Readable.from(['']), { schema, delimter: ',' } as never),
    ).rejects.toThrow(/unknown option "delimter"/);
    await expect(pgm.copyFrom('events', ['id', 'user_id'], 'data' as never, { schema })).rejects.toThrow(
      /readable stream, an async iterable or an array/,
    );
    await expect(pgm.copyFrom('events', ['id', 'user_id'], Readable.from(['']), {} as never)).rejects.toThrow(
      /name the schema/,
    );
    expect((await counts('events')).reduce((x, y) => x + y)).toBe(3);
    const arr = await pgm.copyFrom('events', ['id', 'user_id'], [Buffer.from('20\t20\n'), '21\t21\n'], { schema });
    expect(arr.rowCount).toBe(2);
  });

  it('an unsharded cluster takes the whole stream in one transaction, counted under its id', async () => {
    const plainSchema = uniqueName('fcopy_plain');
    await admin[0].query(`CREATE SCHEMA ${plainSchema}; CREATE TABLE ${plainSchema}.t (id int PRIMARY KEY, note text)`);
    const one = new PgMultiverse();
    try {
      await one.initialize({ plain: { schemas: [plainSchema], primary: serverA } });
      const res = await one.copyFrom('t', ['id', 'note'], Readable.from(['1,a\n2,', '"b,c"\n']), {
        schema: plainSchema,
        format: 'csv',
      });
      expect(res).toEqual({ clusterId: 'plain', rowCount: 2, shards: { plain: 2 } });
      const rows = await admin[0].query(`SELECT id, note FROM ${plainSchema}.t ORDER BY id`);
      expect(rows.rows).toEqual([
        { id: 1, note: 'a' },
        { id: 2, note: 'b,c' },
      ]);
      // a duplicate key: nothing of the stream stays
      const err = await one
        .copyFrom('t', ['id', 'note'], Readable.from(['3\tx\n1\ty\n']), { schema: plainSchema })
        .catch((e) => e);
      expect(err.message).toMatch(/duplicate key/);
      expect((await admin[0].query(`SELECT count(*)::int AS n FROM ${plainSchema}.t`)).rows[0].n).toBe(2);
    } finally {
      await one.close();
      await admin[0].query(`DROP SCHEMA ${plainSchema} CASCADE`);
    }
  });
});
