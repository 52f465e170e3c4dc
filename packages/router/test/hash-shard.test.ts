import { randomUUID } from 'node:crypto';
import type { ShardKeyType } from '@pg-multiverse/core';
import { uniqueName } from '@pg-multiverse/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { columnHash, hashShard } from '../src/hash-shard.js';

// hashShard against the PostgreSQL server itself: the per-type extended hash
// with the partitioning seed, satisfies_hash_partition() for many moduli, and
// real tuple routing into a hash-partitioned table.

const ctx = inject('pgmTopology');
const schema = uniqueName('hash_shard');
const SEED = '8816678312871386365'; // 0x7A5B22367996DCFD, PostgreSQL's HASH_PARTITION_SEED
const MODULI = [1, 2, 3, 4, 5, 6, 7, 8, 13, 16, 64];
const TABLE_MODULUS = 8;
const RANDOM_KEYS = 2500;

const SQL_TYPE: Record<ShardKeyType, string> = { int4: 'int4', int8: 'int8', text: 'text', uuid: 'uuid' };
const HASH_FN: Record<ShardKeyType, string> = {
  int4: 'hashint4extended',
  int8: 'hashint8extended',
  text: 'hashtextextended',
  uuid: 'uuid_hash_extended',
};

// deterministic PRNG (mulberry32) so a failure reproduces
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = prng(0x5eed);
const u32 = () => Math.floor(rnd() * 4294967296);

function int4Keys(): string[] {
  const edge = [0, 1, -1, 2, -2, 42, 2147483647, -2147483648, 2147483646, -2147483647, 65535, 65536, -65536, 1e9];
  const out = edge.map(String);
  for (let i = 0; i < RANDOM_KEYS; i++) out.push(String(u32() | 0));
  for (let i = 0; i < 200; i++) out.push(String(Math.floor(rnd() * 2000) - 1000));
  return out;
}

function int8Keys(): string[] {
  const edge = [
    0n,
    1n,
    -1n,
    2147483647n,
    -2147483648n,
    2147483648n,
    -2147483649n,
    4294967295n,
    4294967296n,
    -4294967296n,
    9007199254740991n,
    -9007199254740991n,
    (1n << 63n) - 1n,
    -(1n << 63n),
    (1n << 62n) + 12345n,
  ];
  const out = edge.map(String);
  for (let i = 0; i < RANDOM_KEYS; i++) out.push(String(BigInt.asIntN(64, (BigInt(u32()) << 32n) | BigInt(u32()))));
  for (let i = 0; i < 200; i++) out.push(String(u32() | 0)); // int4-range values stored as int8
  return out;
}

const POOLS = [
  'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-',
  `'"\\;$%,.{}()[]\t\n`,
  'éèçàüößñøåæÉÀ',
  '日本語中文한국어',
  '😀🚀🎉👍🏽',
];
function randomText(): string {
  const len = Math.floor(rnd() * 40);
  let s = '';
  for (let i = 0; i < len; i++) {
    const pool = [...POOLS[Math.floor(rnd() * (rnd() < 0.7 ? 1 : POOLS.length))]!];
    s += pool[Math.floor(rnd() * pool.length)];
  }
  return s;
}
function textKeys(): string[] {
  const edge = [
    '',
    'a',
    'ab',
    'abc',
    'abcd',
    'abcdefghijk',
    'abcdefghijkl',
    'abcdefghijklm',
    'héllo',
    '日本語',
    '😀',
    'e\u0301',
    "O'Brien",
    'back\\slash',
    'x'.repeat(1000),
  ];
  const out = [...edge];
  for (let n = 0; n <= 30; n++) out.push('z'.repeat(n)); // every tail length and several 12-byte blocks
  for (let i = 0; i < RANDOM_KEYS; i++) out.push(randomText());
  return out;
}

function uuidKeys(): string[] {
  const out = [
    '00000000-0000-0000-0000-000000000000',
    'ffffffff-ffff-ffff-ffff-ffffffffffff',
    '0123abcd-4567-89ab-cdef-0123456789ab',
  ];
  for (let i = 0; i < RANDOM_KEYS; i++) out.push(randomUUID());
  return out;
}

const KEYS: Record<ShardKeyType, string[]> = { int4: int4Keys(), int8: int8Keys(), text: textKeys(), uuid: uuidKeys() };
const TYPES = Object.keys(KEYS) as ShardKeyType[];

/** The key as hashShard takes it from an application: numbers for int4, bigint for int8, strings otherwise. */
function appKey(type: ShardKeyType, k: string): string | number | bigint {
  if (type === 'int4') return Number(k);
  if (type === 'int8') return BigInt(k);
  return k;
}

let client: pg.Client;

beforeAll(async () => {
  client = new pg.Client(ctx.config.commerce_cluster!.primary);
  await client.connect();
  const ddl = [`CREATE SCHEMA "${schema}"`];
  for (const type of TYPES) {
    ddl.push(`CREATE TABLE "${schema}".p_${type} (i int, k ${SQL_TYPE[type]}) PARTITION BY HASH (k)`);
    for (let r = 0; r < TABLE_MODULUS; r++) {
      ddl.push(
        `CREATE TABLE "${schema}".p_${type}_${r} PARTITION OF "${schema}".p_${type} FOR VALUES WITH (MODULUS ${TABLE_MODULUS}, REMAINDER ${r})`,
      );
    }
  }
  await client.query(ddl.join(';\n'));
});

afterAll(async () => {
  await client?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client?.end();
});

describe.each(TYPES)('hashShard(%s) matches PostgreSQL', (type) => {
  const keys = KEYS[type];
  const arrayType = `${SQL_TYPE[type]}[]`;

  it(`has the same 64-bit column hash as ${HASH_FN[type]}(key, HASH_PARTITION_SEED)`, async () => {
    const { rows } = await client.query<{ h: string }>(
      `SELECT ${HASH_FN[type]}(k, ${SEED})::text AS h FROM unnest($1::${arrayType}) WITH ORDINALITY AS u(k, i) ORDER BY i`,
      [keys],
    );
    expect(rows).toHaveLength(keys.length);
    const mismatches = keys
      .map((k, i) => ({ k, pg: rows[i]!.h, ours: BigInt.asIntN(64, columnHash(appKey(type, k), type)).toString() }))
      .filter((m) => m.pg !== m.ours);
    expect(mismatches.slice(0, 5)).toEqual([]);
  });

  it(`agrees with satisfies_hash_partition for moduli ${MODULI.join(', ')}`, async () => {
    const idx: number[] = [];
    const mods: number[] = [];
    const rems: number[] = [];
    let outOfRange = 0;
    keys.forEach((k, i) => {
      for (const m of MODULI) {
        const r = hashShard(appKey(type, k), m, type);
        if (!Number.isInteger(r) || r < 0 || r >= m) outOfRange++;
        idx.push(i + 1);
        mods.push(m);
        rems.push(r);
      }
    });
    const { rows } = await client.query<{ total: string; bad: string[] | null }>(
      `SELECT count(*)::text AS total,
              (array_agg(c.i::text || ' mod ' || c.m || ' rem ' || c.r) FILTER (WHERE NOT c.ok))[1:5] AS bad
         FROM (SELECT c.i, c.m, c.r, satisfies_hash_partition('"${schema}".p_${type}'::regclass::oid, c.m, c.r, k.k) AS ok
                 FROM unnest($2::int[], $3::int[], $4::int[]) AS c(i, m, r)
                 JOIN unnest($1::${arrayType}) WITH ORDINALITY AS k(k, i) ON k.i = c.i) c`,
      [keys, idx, mods, rems],
    );
    expect(outOfRange).toBe(0);
    expect(Number(rows[0]!.total)).toBe(keys.length * MODULI.length);
    expect(rows[0]!.bad ?? []).toEqual([]);
  });

  it(`puts every key in the partition PostgreSQL routes it to (MODULUS ${TABLE_MODULUS})`, async () => {
    await client.query(
      `INSERT INTO "${schema}".p_${type} (i, k) SELECT i, k FROM unnest($1::${arrayType}) WITH ORDINALITY AS u(k, i)`,
      [keys],
    );
    const { rows } = await client.query<{ i: number; part: string }>(
      `SELECT i, tableoid::regclass::text AS part FROM "${schema}".p_${type} ORDER BY i`,
    );
    expect(rows).toHaveLength(keys.length);
    const wrong = rows.filter((row) => {
      const expected = `p_${type}_${hashShard(appKey(type, keys[row.i - 1]!), TABLE_MODULUS, type)}`;
      return !row.part.endsWith(expected);
    });
    expect(wrong.slice(0, 5)).toEqual([]);
    // the keys really spread over all partitions
    expect(new Set(rows.map((r) => r.part)).size).toBe(TABLE_MODULUS);
  });
});
