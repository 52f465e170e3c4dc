import { PgmError, quoteIdent, type ShardKeyType } from '@pg-multiverse/core';

/**
 * The SQL that decides whether a row belongs to some hash partitions, usable where PostgreSQL 15
 * is strict about expressions: publication row filters (built-in immutable functions, plain
 * columns, no user-defined anything) and the fence triggers.
 *
 * `satisfies_hash_partition(parent, modulus, remainder, key)` is PostgreSQL's own check for hash
 * partitions (the one a `PARTITION BY HASH` child's constraint uses): built in and immutable. Its
 * `parent` must be a hash-partitioned table whose key has the hash type: the engine keeps one
 * empty helper per key type, `pgm_reshard.hash_<type>`, on each shard and passes its OID as a
 * constant. The key is cast to that type (`int4` and `int8` hash alike in PostgreSQL), so a row's
 * partition is exactly the one the router computes with `hashShard(key, modulus, type)`.
 */

/** Schema of the engine's control objects on every shard and on the journal's server. */
export const CONTROL_SCHEMA = 'pgm_reshard';

/** SQL type of each hash type. */
const SQL_TYPE: Record<ShardKeyType, string> = { int4: 'int4', int8: 'int8', text: 'text', uuid: 'uuid' };

/** Name of the helper table for a hash type. */
export function helperTable(type: ShardKeyType): string {
  return `hash_${type}`;
}

/** DDL creating the helper (idempotent). */
export function helperDdl(type: ShardKeyType): string {
  return `CREATE TABLE IF NOT EXISTS ${quoteIdent(CONTROL_SCHEMA)}.${quoteIdent(helperTable(type))} (k ${SQL_TYPE[type]}) PARTITION BY HASH (k)`;
}

/** The hash type a column of this SQL type is hashed as, when the cluster names none (as the router: numbers int8, else text). */
export function defaultHashType(columnType: string): ShardKeyType {
  return /^(smallint|integer|bigint|int2|int4|int8)$/.test(columnType) ? 'int8' : 'text';
}

/**
 * `(satisfies_hash_partition(oid, m, r1, key::type) OR ...)` for the given partitions, with `key`
 * the column expression (`"user_id"`, or `NEW."user_id"` in a trigger).
 */
export function partitionPredicate(opts: {
  helperOid: number;
  modulus: number;
  partitions: readonly number[];
  keyExpr: string;
  type: ShardKeyType;
}): string {
  const { helperOid, modulus, partitions, keyExpr, type } = opts;
  if (!Number.isInteger(helperOid) || helperOid <= 0) {
    throw new PgmError(
      'INVALID_ARGUMENT',
      `partitionPredicate: helper OID must be a positive integer, got ${helperOid}`,
    );
  }
  if (partitions.length === 0) throw new PgmError('INVALID_ARGUMENT', 'partitionPredicate: no partitions given');
  for (const p of partitions) {
    if (!Number.isInteger(p) || p < 0 || p >= modulus) {
      throw new PgmError('INVALID_ARGUMENT', `partitionPredicate: partition ${p} is not in [0, ${modulus})`);
    }
  }
  const key = `(${keyExpr})::${SQL_TYPE[type]}`;
  const terms = [...new Set(partitions)]
    .sort((a, b) => a - b)
    .map((r) => `satisfies_hash_partition(${helperOid}::oid, ${modulus}, ${r}, ${key})`);
  return `(${terms.join(' OR ')})`;
}
