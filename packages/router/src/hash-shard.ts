import { PgmError, type ShardKeyType } from '@pg-multiverse/core';

/**
 * PostgreSQL-compatible hash partitioning.
 *
 * `hashShard(key, m, type)` returns the remainder `r` of the partition that
 * PostgreSQL itself picks for `key` in a table `PARTITION BY HASH (col)` whose
 * partitions are `FOR VALUES WITH (MODULUS m, REMAINDER r)`. It reproduces:
 * - the type's extended hash function (hashint4extended, hashint8extended,
 *   hashtextextended for deterministic collations, uuid_hash_extended),
 *   called with the partitioning seed 0x7A5B22367996DCFD;
 * - Bob Jenkins' lookup3 mixing as in PostgreSQL's hash_bytes_extended and
 *   hash_bytes_uint32_extended (little-endian word loads, as on x86-64 and ARM);
 * - the row hash: start at 0 and fold each column hash in with hash_combine64;
 * - the unsigned 64-bit modulo.
 * 32-bit steps use plain numbers (`>>> 0`); only the 64-bit combine and modulo use BigInt.
 */

export type ShardKey = string | number | bigint | Uint8Array;

const SEED_HI = 0x7a5b2236;
const SEED_LO = 0x7996dcfd;
const MASK64 = (1n << 64n) - 1n;
const COMBINE_CONST = 0x49a0f4dd15e5a8e3n;
const INITVAL = 0x9e3779b9 + 3923095;

const INT4_MIN = -2147483648;
const INT4_MAX = 2147483647;
const INT8_MIN = -(1n << 63n);
const INT8_MAX = (1n << 63n) - 1n;

function rot(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** lookup3 state after optional seeding; mutated in place by mix/final. */
type State = [a: number, b: number, c: number];

function mix(s: State): void {
  let [a, b, c] = s;
  a = (a - c) >>> 0;
  a = (a ^ rot(c, 4)) >>> 0;
  c = (c + b) >>> 0;
  b = (b - a) >>> 0;
  b = (b ^ rot(a, 6)) >>> 0;
  a = (a + c) >>> 0;
  c = (c - b) >>> 0;
  c = (c ^ rot(b, 8)) >>> 0;
  b = (b + a) >>> 0;
  a = (a - c) >>> 0;
  a = (a ^ rot(c, 16)) >>> 0;
  c = (c + b) >>> 0;
  b = (b - a) >>> 0;
  b = (b ^ rot(a, 19)) >>> 0;
  a = (a + c) >>> 0;
  c = (c - b) >>> 0;
  c = (c ^ rot(b, 4)) >>> 0;
  b = (b + a) >>> 0;
  s[0] = a;
  s[1] = b;
  s[2] = c;
}

function final(s: State): void {
  let a = s[0];
  let b = s[1];
  let c = s[2];
  c = (c ^ b) >>> 0;
  c = (c - rot(b, 14)) >>> 0;
  a = (a ^ c) >>> 0;
  a = (a - rot(c, 11)) >>> 0;
  b = (b ^ a) >>> 0;
  b = (b - rot(a, 25)) >>> 0;
  c = (c ^ b) >>> 0;
  c = (c - rot(b, 16)) >>> 0;
  a = (a ^ c) >>> 0;
  a = (a - rot(c, 4)) >>> 0;
  b = (b ^ a) >>> 0;
  b = (b - rot(a, 14)) >>> 0;
  c = (c ^ b) >>> 0;
  c = (c - rot(b, 24)) >>> 0;
  s[0] = a;
  s[1] = b;
  s[2] = c;
}

function seeded(len: number, seedHi: number, seedLo: number): State {
  const init = (INITVAL + len) >>> 0;
  const s: State = [init, init, init];
  if (seedHi !== 0 || seedLo !== 0) {
    s[0] = (s[0] + seedHi) >>> 0;
    s[1] = (s[1] + seedLo) >>> 0;
    mix(s);
  }
  return s;
}

const toUint64 = (s: State): bigint => (BigInt(s[1]) << 32n) | BigInt(s[2]);

/** hash_bytes_extended: 64-bit lookup3 hash of a byte string with a 64-bit seed (given as two halves). */
export function hashBytesExtended(k: Uint8Array, seedHi = SEED_HI, seedLo = SEED_LO): bigint {
  return toUint64(bytesState(k, seedHi, seedLo));
}

/** The lookup3 state of `hashBytesExtended` (the hash is `b << 32 | c`). */
function bytesState(k: Uint8Array, seedHi: number, seedLo: number): State {
  let len = k.length;
  const s = seeded(len, seedHi, seedLo);
  const word = (o: number) => (k[o]! | (k[o + 1]! << 8) | (k[o + 2]! << 16) | (k[o + 3]! << 24)) >>> 0;
  let o = 0;
  while (len >= 12) {
    s[0] = (s[0] + word(o)) >>> 0;
    s[1] = (s[1] + word(o + 4)) >>> 0;
    s[2] = (s[2] + word(o + 8)) >>> 0;
    mix(s);
    o += 12;
    len -= 12;
  }
  // the last 0..11 bytes, little-endian; the lowest byte of c is left for the length
  const byte = (i: number) => k[o + i]!;
  switch (len) {
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: lookup3 tail
    case 11:
      s[2] = (s[2] + (byte(10) << 24)) >>> 0;
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: lookup3 tail
    case 10:
      s[2] = (s[2] + (byte(9) << 16)) >>> 0;
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: lookup3 tail
    case 9:
      s[2] = (s[2] + (byte(8) << 8)) >>> 0;
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: lookup3 tail
    case 8:
      s[1] = (s[1] + (byte(7) << 24)) >>> 0;
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: lookup3 tail
    case 7:
      s[1] = (s[1] + (byte(6) << 16)) >>> 0;
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: lookup3 tail
    case 6:
      s[1] = (s[1] + (byte(5) << 8)) >>> 0;
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: lookup3 tail
    case 5:
      s[1] = (s[1] + byte(4)) >>> 0;
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: lookup3 tail
    case 4:
      s[0] = (s[0] + (byte(3) << 24)) >>> 0;
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: lookup3 tail
    case 3:
      s[0] = (s[0] + (byte(2) << 16)) >>> 0;
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: lookup3 tail
    case 2:
      s[0] = (s[0] + (byte(1) << 8)) >>> 0;
    case 1:
      s[0] = (s[0] + byte(0)) >>> 0;
  }
  final(s);
  return s;
}

/** hash_bytes_uint32_extended: the 4-byte special case, for a uint32 value. */
export function hashUint32Extended(k: number, seedHi = SEED_HI, seedLo = SEED_LO): bigint {
  return toUint64(uint32State(k, seedHi, seedLo));
}

function uint32State(k: number, seedHi: number, seedLo: number): State {
  const s = seeded(4, seedHi, seedLo);
  s[0] = (s[0] + (k >>> 0)) >>> 0;
  final(s);
  return s;
}

/** hash_combine64(a, b). */
export function hashCombine64(a: bigint, b: bigint): bigint {
  return (a ^ ((b + COMBINE_CONST + ((a << 54n) & MASK64) + (a >> 7n)) & MASK64)) & MASK64;
}

const utf8 = new TextEncoder();

function invalid(message: string, key: unknown): never {
  throw new PgmError('INVALID_ARGUMENT', `hashShard: ${message}`, {
    details: { keyType: typeof key },
  });
}

function toBigIntKey(key: ShardKey, type: string): bigint {
  if (typeof key === 'bigint') return key;
  if (typeof key === 'number') {
    if (!Number.isSafeInteger(key)) invalid(`${type} key must be a safe integer, got ${key}`, key);
    return BigInt(key);
  }
  if (typeof key === 'string' && /^\s*[+-]?\d+\s*$/.test(key)) return BigInt(key.trim());
  return invalid(`${type} key must be an integer, a bigint or a decimal string`, key);
}

function parseUuid(key: ShardKey): Uint8Array {
  if (key instanceof Uint8Array) {
    if (key.length !== 16) invalid('uuid key bytes must be 16 long', key);
    return key;
  }
  if (typeof key !== 'string') return invalid('uuid key must be a string', key);
  let s = key.trim();
  if (s.startsWith('{') && s.endsWith('}')) s = s.slice(1, -1);
  const hex = s.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) invalid('uuid key is not a valid UUID', key);
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** The 64-bit hash PostgreSQL's `<type>extended(value, HASH_PARTITION_SEED)` returns for one column. */
export function columnHash(key: ShardKey, type: ShardKeyType): bigint {
  switch (type) {
    case 'int4': {
      const v = toBigIntKey(key, 'int4');
      if (v < BigInt(INT4_MIN) || v > BigInt(INT4_MAX)) invalid('int4 key out of range', key);
      return hashUint32Extended(Number(v) >>> 0);
    }
    case 'int8': {
      const v = toBigIntKey(key, 'int8');
      if (v < INT8_MIN || v > INT8_MAX) invalid('int8 key out of range', key);
      // fold the high word into the low one (hashint8: same hash as int4/int2 for equal values)
      const lo = Number(v & 0xffffffffn) >>> 0;
      const hi = Number((v >> 32n) & 0xffffffffn) >>> 0;
      return hashUint32Extended((lo ^ (v >= 0n ? hi : ~hi)) >>> 0);
    }
    case 'text': {
      let s: string;
      if (typeof key === 'string') s = key;
      else if (typeof key === 'number' || typeof key === 'bigint') s = String(key);
      else return invalid('text key must be a string', key);
      if (s.includes('\u0000')) invalid('text key cannot contain NUL characters', key);
      return hashBytesExtended(utf8.encode(s));
    }
    case 'uuid':
      return hashBytesExtended(parseUuid(key));
    default:
      return invalid(`unsupported key type ${JSON.stringify(type)} (int4, int8, text, uuid)`, key);
  }
}

/**
 * Row hash of a (possibly multi-column) partition key, as compute_partition_hash_value:
 * starts at 0 and combines each non-null column's hash. Columns in key order.
 */
export function partitionRowHash(
  columns: ReadonlyArray<readonly [key: ShardKey | null | undefined, type: ShardKeyType]>,
): bigint {
  let row = 0n;
  for (const [key, type] of columns) {
    if (key === null || key === undefined) continue; // NULLs are skipped, like PostgreSQL
    row = hashCombine64(row, columnHash(key, type));
  }
  return row;
}

function defaultType(key: ShardKey): ShardKeyType {
  return typeof key === 'number' || typeof key === 'bigint' ? 'int8' : 'text';
}

/**
 * Partition (hash remainder in `[0, partitions)`) of `key` for a table
 * `PARTITION BY HASH` with `partitions` partitions of `MODULUS partitions`.
 * `type` defaults to `int8` for numbers and bigints, `text` for strings.
 * Text keys hash their UTF-8 bytes: right for UTF-8 databases and
 * deterministic collations (the default).
 */
export function hashShard(key: ShardKey, partitions: number, type: ShardKeyType = defaultType(key)): number {
  if (!Number.isSafeInteger(partitions) || partitions < 1) {
    throw new PgmError('INVALID_ARGUMENT', `hashShard: partitions must be a positive integer, got ${partitions}`);
  }
  if (key === null || key === undefined) invalid('key is required', key);
  if (partitions < MAX_FAST_PARTITIONS) {
    const word = intWord(key, type);
    if (word >= 0) return partitionOfWord(word, partitions);
    const fast = fastState(key, type);
    if (fast !== undefined) return partitionOfHalves(fast[1], fast[2], partitions);
  }
  return Number(hashCombine64(0n, columnHash(key, type)) % BigInt(partitions));
}

const TWO32 = 4294967296;
const C_HI = 0x49a0f4dd;
const C_LO = 0x15e5a8e3;
/** Below this, `(hi % m) * (2^32 % m)` stays an exact double. */
const MAX_FAST_PARTITIONS = 1 << 26;

/**
 * The 32-bit word an int4/int8 key is hashed as (hashint4, and hashint8's high word folded into
 * the low one), for safe integers and short decimal strings; -1: not such a key (the BigInt path
 * decides, and says what is wrong with a bad one).
 */
function intWord(key: ShardKey, type: ShardKeyType): number {
  if (type !== 'int8' && type !== 'int4') return -1;
  let v: number;
  if (typeof key === 'number') {
    if (!Number.isSafeInteger(key)) return -1;
    v = key;
  } else if (typeof key === 'string' && /^-?\d{1,15}$/.test(key)) v = Number(key);
  else return -1;
  if (type === 'int4') return v < INT4_MIN || v > INT4_MAX ? -1 : v >>> 0;
  // two's complement words of v
  const lo = v >>> 0;
  const hi = Math.floor(v / TWO32) >>> 0;
  return (lo ^ (v >= 0 ? hi : ~hi)) >>> 0;
}

/** lookup3 state of a 4-byte key once seeded with the partitioning seed: the same for every key. */
const WORD_SEEDED = seeded(4, SEED_HI, SEED_LO);
/** One state reused by every `partitionOfWord` call (synchronous, so never shared by two at once). */
const WORD_STATE: State = [0, 0, 0];

/**
 * `partitionOfHalves` of hash_bytes_uint32_extended(word, partitioning seed): `uint32State` and
 * `final` from the precomputed seeded state, in a reused state (no array per key; the key routing
 * of every point read on a sharded cluster comes here).
 */
function partitionOfWord(word: number, m: number): number {
  WORD_STATE[0] = (WORD_SEEDED[0] + word) >>> 0;
  WORD_STATE[1] = WORD_SEEDED[1];
  WORD_STATE[2] = WORD_SEEDED[2];
  final(WORD_STATE);
  return partitionOfHalves(WORD_STATE[1], WORD_STATE[2], m);
}

/**
 * The column hash state for text and uuid keys without BigInt; undefined: take the BigInt path
 * (same result).
 */
function fastState(key: ShardKey, type: ShardKeyType): State | undefined {
  switch (type) {
    case 'text':
      if (typeof key !== 'string' || key.includes('\u0000')) return undefined;
      return bytesState(utf8.encode(key), SEED_HI, SEED_LO);
    case 'uuid':
      return bytesState(parseUuid(key), SEED_HI, SEED_LO);
    default:
      return undefined;
  }
}

/**
 * `hashCombine64(0, hash) % partitions` on the hash's two 32-bit halves: (hash + C) mod 2^64, then
 * mod m. A power-of-two m divides 2^32, so the low word alone decides (no floating-point modulo).
 */
function partitionOfHalves(hashHi: number, hashLo: number, m: number): number {
  const sum = hashLo + C_LO;
  const lo = sum >>> 0; // mod 2^32
  if ((m & (m - 1)) === 0) return lo & (m - 1);
  const hi = (hashHi + C_HI + (sum >= TWO32 ? 1 : 0)) >>> 0; // mod 2^32 (the sum is below 2^33)
  return ((hi % m) * (TWO32 % m) + (lo % m)) % m;
}
