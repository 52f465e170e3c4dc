import { createHash } from 'node:crypto';
import { type Connection, quoteIdent, quoteQualified, type ShardKeyType } from '@pg-multiverse/core';
import { GUARD_SETTING, HASH_PARTITION_SEED } from './store.js';

type Queryable = Pick<Connection, 'query'>;

/** The guard function's name for a cluster (PostgreSQL cuts names at 63 bytes: long ids are hashed). */
export function guardFunctionName(clusterId: string, keyType: ShardKeyType): string {
  const name = `guard_${clusterId}_${keyType}`;
  if (Buffer.byteLength(name) <= 63) return name;
  return `guard_${createHash('sha1').update(clusterId).digest('hex').slice(0, 24)}_${keyType}`;
}

/** Name of the trigger the guard installs on each sharded table. */
export const GUARD_TRIGGER = 'pgm_partition_guard';

/**
 * The column hash PostgreSQL's hash partitioning uses, as SQL (`hashint8extended(col, seed)`...).
 * Integer columns hash as int8 (PostgreSQL gives int2/int4/int8 equal hashes for equal values); the
 * configured `keyType` wins when given, as it does for `hashShard`.
 */
export function columnHashSql(column: string, keyType: ShardKeyType | undefined, columnType?: string): string {
  const t = keyType ?? inferKeyType(columnType);
  switch (t) {
    case 'int4':
      return `hashint4extended((${column})::int4, ${HASH_PARTITION_SEED})`;
    case 'text':
      return `hashtextextended((${column})::text, ${HASH_PARTITION_SEED})`;
    case 'uuid':
      return `uuid_hash_extended((${column})::uuid, ${HASH_PARTITION_SEED})`;
    default:
      return `hashint8extended((${column})::int8, ${HASH_PARTITION_SEED})`;
  }
}

function inferKeyType(columnType: string | undefined): ShardKeyType {
  if (columnType === undefined) return 'int8';
  if (/^(smallint|integer|bigint|int[248])$/.test(columnType)) return 'int8';
  if (columnType === 'uuid') return 'uuid';
  return 'text';
}

/** SQL predicate: the row's partition (by `column`) is one of `partitions`. For reads visiting every shard. */
export function partitionPredicate(
  schema: string,
  column: string,
  keyType: ShardKeyType | undefined,
  modulus: number,
  partitions: readonly number[],
): string {
  if (partitions.length === 0) return 'false';
  const hash = columnHashSql(quoteIdent(column), keyType);
  const list = `IN (${partitions.join(', ')})`;
  return `(${quoteIdent(column)} IS NULL AND 0 ${list} OR ${quoteQualified(schema, 'partition_of')}(${hash}, ${modulus}) ${list})`;
}

/**
 * The trigger function of one cluster on a shard: for each row written (its old and new key), the
 * partition must be owned by this server (`check_owner`), unless `pgm.partition_guard` is `off` in the
 * transaction (a move's cleanup deleting rows it no longer owns). Logical replication's apply workers
 * do not fire it (ordinary triggers are skipped under `session_replication_role = replica`).
 */
function guardFunctionSql(
  schema: string,
  fn: string,
  clusterId: string,
  key: string,
  hash: (v: string) => string,
  modulus: number,
): string {
  const cid = `'${clusterId.replace(/'/g, "''")}'`;
  const part = (row: string) =>
    `CASE WHEN ${row}.${quoteIdent(key)} IS NULL THEN 0 ELSE ${quoteQualified(schema, 'partition_of')}(${hash(`${row}.${quoteIdent(key)}`)}, ${modulus}) END`;
  const check = quoteQualified(schema, 'check_owner');
  return `CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  IF coalesce(current_setting('${GUARD_SETTING}', true), '') = 'off' THEN
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
  END IF;
  IF TG_OP = 'INSERT' THEN
    PERFORM ${check}(${cid}, ${part('NEW')});
    RETURN NEW;
  END IF;
  PERFORM ${check}(${cid}, ${part('OLD')});
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  IF NEW.${quoteIdent(key)} IS DISTINCT FROM OLD.${quoteIdent(key)} THEN
    PERFORM ${check}(${cid}, ${part('NEW')});
  END IF;
  RETURN NEW;
END $f$`;
}

/**
 * Install the ownership guard on one shard: a `BEFORE INSERT OR UPDATE OR DELETE ... FOR EACH ROW`
 * trigger on every table of `schemas` that has the shard-key column `key` (partitioned tables carry it
 * to their partitions). Idempotent. Returns the tables guarded (`schema.table`).
 */
export async function installGuards(
  q: Queryable,
  opts: {
    schema: string;
    clusterId: string;
    key: string;
    keyType: ShardKeyType | undefined;
    modulus: number;
    schemas: readonly string[];
    /** Only tables that have no guard yet (what a fence needs: one catalog query when all have it). */
    onlyMissing?: boolean;
  },
): Promise<string[]> {
  const r = await q.query<{ nsp: string; rel: string; typ: string }>(
    `SELECT n.nspname AS nsp, c.relname AS rel, format_type(a.atttypid, NULL) AS typ
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE a.attname = $1 AND NOT a.attisdropped AND a.attnum > 0
        AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND n.nspname = ANY($2::text[])
        AND NOT ($3::boolean AND EXISTS (
          SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = '${GUARD_TRIGGER}'))
      ORDER BY 1, 2`,
    [opts.key, opts.schemas, opts.onlyMissing === true],
  );
  const out: string[] = [];
  const made = new Set<string>();
  for (const row of r.rows) {
    const kt = opts.keyType ?? inferKeyType(row.typ);
    const fn = quoteQualified(opts.schema, guardFunctionName(opts.clusterId, kt));
    if (!made.has(fn)) {
      await q.query(
        guardFunctionSql(opts.schema, fn, opts.clusterId, opts.key, (v) => columnHashSql(v, kt), opts.modulus),
      );
      made.add(fn);
    }
    await q.query(
      `CREATE OR REPLACE TRIGGER ${GUARD_TRIGGER} BEFORE INSERT OR UPDATE OR DELETE ON ${quoteQualified(row.nsp, row.rel)} FOR EACH ROW EXECUTE FUNCTION ${fn}()`,
    );
    out.push(`${row.nsp}.${row.rel}`);
  }
  return out;
}
