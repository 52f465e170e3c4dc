import { type Connection, quoteIdent, quoteQualified } from '@pg-multiverse/core';
import { mapFromRow, type PartitionMap } from './map.js';

type Queryable = Pick<Connection, 'query'>;

/** The LISTEN/NOTIFY channel a committed map version is announced on (payload `{"c": clusterId, "v": version}`). */
export const PARTITION_MAP_CHANNEL = 'pgm_partition_map';

/** SQLSTATE a shard raises for a write to a partition it does not own (`<schema>.check_owner`). */
export const NOT_OWNER_SQLSTATE = 'PGM01';

/** Setting that turns the ownership guard off for one transaction (`SET LOCAL pgm.partition_guard = 'off'`). */
export const GUARD_SETTING = 'pgm.partition_guard';

/** 2^64 and hash_combine64(0, h) - h (PostgreSQL's row hash of one column, unsigned): see hash-shard.ts. */
const TWO64 = '18446744073709551616';
const COMBINE = '5305509591434766563';
/** HASH_PARTITION_SEED as a signed int8. */
export const HASH_PARTITION_SEED = '8816678312871386365';

/** Retry DDL that two processes may run at once (one of them gets a unique violation; the object exists then). */
async function ddl(q: Queryable, sql: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await q.query(sql);
      return;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (attempt < 3 && (code === '23505' || code === '42P07' || code === '42P06' || code === 'XX000')) continue;
      throw err;
    }
  }
}

/**
 * The control objects. On the coordinator: `<schema>.partition_maps`, one row per cluster (the map in
 * force and its version). On every shard: `<schema>.owned_partitions` (the partitions that server may
 * take writes for), `<schema>.partition_of(hash, modulus)` (PostgreSQL's hash-partition remainder of a
 * column hash) and `<schema>.check_owner(cluster, partition)` (raises `PGM01` unless owned; takes a
 * shared advisory lock so that a fence waits for writes in flight).
 */
export function createMapStore(schema: string) {
  const s = quoteIdent(schema);
  const maps = quoteQualified(schema, 'partition_maps');
  const owned = quoteQualified(schema, 'owned_partitions');
  const partitionOf = quoteQualified(schema, 'partition_of');
  const checkOwner = quoteQualified(schema, 'check_owner');
  const revokeFn = quoteQualified(schema, 'revoke_partitions');

  /** Lock key of one partition: the class is the hash of the cluster id, so clusters never share a lock. */
  const lockKey = (clusterParam: string, partitionExpr: string) =>
    `hashtext('pgm_partition:' || ${clusterParam}), ${partitionExpr}`;

  return {
    schema,
    partitionOf,

    async ensureCoordinator(q: Queryable): Promise<void> {
      await ddl(q, `CREATE SCHEMA IF NOT EXISTS ${s}`);
      await ddl(
        q,
        `CREATE TABLE IF NOT EXISTS ${maps} (
          cluster_id text PRIMARY KEY,
          version bigint NOT NULL CHECK (version >= 1),
          partitions int NOT NULL CHECK (partitions >= 1),
          owners text[] NOT NULL CHECK (cardinality(owners) = partitions),
          moved jsonb NOT NULL DEFAULT '{}',
          strays jsonb NOT NULL DEFAULT '{}',
          updated_at timestamptz NOT NULL DEFAULT now())`,
      );
    },

    async ensureShard(q: Queryable): Promise<void> {
      await ddl(q, `CREATE SCHEMA IF NOT EXISTS ${s}`);
      await ddl(
        q,
        `CREATE TABLE IF NOT EXISTS ${owned} (
          cluster_id text NOT NULL,
          partition int NOT NULL,
          map_version bigint NOT NULL,
          PRIMARY KEY (cluster_id, partition))`,
      );
      await ddl(
        q,
        `CREATE OR REPLACE FUNCTION ${partitionOf}(h bigint, modulus int) RETURNS int
         LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
         $f$ SELECT ((h::numeric + ${TWO64} + ${COMBINE}) % ${TWO64} % modulus)::int $f$`,
      );
      await ddl(
        q,
        `CREATE OR REPLACE FUNCTION ${checkOwner}(cid text, p int) RETURNS void
         LANGUAGE plpgsql AS $f$
         BEGIN
           PERFORM pg_advisory_xact_lock_shared(${lockKey('cid', 'p')});
           IF NOT EXISTS (SELECT 1 FROM ${owned} WHERE cluster_id = cid AND partition = p) THEN
             RAISE EXCEPTION USING
               ERRCODE = '${NOT_OWNER_SQLSTATE}',
               MESSAGE = format('partition %s of cluster "%s" is not owned by this server', p, cid),
               DETAIL = format('cluster=%s partition=%s', cid, p),
               HINT = 'The partition map changed: reload it and route the statement to the new owner.';
           END IF;
         END $f$`,
      );
      // The fence in one statement: exclusive locks (in partition order) wait for the writes holding the
      // shared ones, then the partitions are no longer owned; the WAL position returned is past every
      // write the server accepted for them.
      await ddl(
        q,
        `CREATE OR REPLACE FUNCTION ${revokeFn}(cid text, parts int[]) RETURNS text
         LANGUAGE plpgsql AS $f$
         BEGIN
           PERFORM set_config('synchronous_commit', 'on', true);
           PERFORM pg_advisory_xact_lock(${lockKey('cid', 'p')}) FROM unnest(parts) AS p ORDER BY p;
           DELETE FROM ${owned} WHERE cluster_id = cid AND partition = ANY(parts);
           RETURN pg_current_wal_insert_lsn()::text;
         END $f$`,
      );
    },

    async load(q: Queryable, clusterId: string): Promise<PartitionMap | undefined> {
      const r = await q.query<{
        version: string;
        partitions: number;
        owners: string[];
        moved: unknown;
        strays: unknown;
      }>(`SELECT version, partitions, owners, moved, strays FROM ${maps} WHERE cluster_id = $1`, [clusterId]);
      const row = r.rows[0];
      return row ? mapFromRow(clusterId, row) : undefined;
    },

    /** Store `map` unless a map is stored already; returns the one in force afterwards. */
    async seed(q: Queryable, map: PartitionMap): Promise<PartitionMap> {
      await q.query(
        `INSERT INTO ${maps} (cluster_id, version, partitions, owners)
         SELECT $1, $2, $3, $4::text[] FROM (SELECT set_config('synchronous_commit', 'on', true)) AS durable
         ON CONFLICT (cluster_id) DO NOTHING`,
        [map.clusterId, map.version, map.partitions, map.owners],
      );
      return (await this.load(q, map.clusterId))!;
    },

    /**
     * Compare-and-set: store `next` if the stored version is still `expected`, announcing it on
     * `PARTITION_MAP_CHANNEL` in the same transaction (one statement). False when the version moved on.
     */
    async commit(q: Queryable, expected: number, next: PartitionMap): Promise<boolean> {
      const r = await q.query(
        `WITH durable AS (SELECT set_config('synchronous_commit', 'on', true)),
         u AS (
           UPDATE ${maps} SET version = $3, owners = $4::text[], moved = $5::jsonb, strays = $6::jsonb, updated_at = now()
           WHERE cluster_id = $1 AND version = $2 AND (SELECT true FROM durable)
           RETURNING version)
         SELECT pg_notify('${PARTITION_MAP_CHANNEL}', json_build_object('c', $1::text, 'v', u.version)::text) FROM u`,
        [next.clusterId, expected, next.version, next.owners, JSON.stringify(next.moved), JSON.stringify(next.strays)],
      );
      return (r.rowCount ?? r.rows.length) === 1;
    },

    /** The partitions of `clusterId` this shard takes writes for. */
    async owned(q: Queryable, clusterId: string): Promise<number[]> {
      const r = await q.query<{ p: number }>(
        `SELECT partition AS p FROM ${owned} WHERE cluster_id = $1 ORDER BY partition`,
        [clusterId],
      );
      return r.rows.map((x) => x.p);
    },

    /** Let this shard take writes for `partitions` (as of map `version`). */
    async grant(q: Queryable, clusterId: string, partitions: readonly number[], version: number): Promise<void> {
      if (partitions.length === 0) return;
      await q.query(
        `INSERT INTO ${owned} (cluster_id, partition, map_version)
         SELECT $1, p, $3 FROM unnest($2::int[]) AS p, (SELECT set_config('synchronous_commit', 'on', true)) AS durable
         ON CONFLICT (cluster_id, partition) DO UPDATE SET map_version = EXCLUDED.map_version`,
        [clusterId, partitions, version],
      );
    },

    /**
     * Fence: this shard stops taking writes for `partitions` (one statement, see `revoke_partitions`).
     * When it returns no write for those partitions can commit on the shard any more. Returns the
     * shard's WAL position then.
     */
    async revoke(q: Queryable, clusterId: string, partitions: readonly number[]): Promise<string> {
      for (let attempt = 0; ; attempt++) {
        try {
          const r = await q.query<{ l: string }>(`SELECT ${revokeFn}($1, $2::int[]) AS l`, [clusterId, partitions]);
          return r.rows[0]!.l;
        } catch (err) {
          // A write holding one partition's lock and waiting for another: PostgreSQL breaks the deadlock.
          if (attempt < 5 && (err as { code?: string }).code === '40P01') continue;
          throw err;
        }
      }
    },

    /** Make this shard's ownership exactly `partitions` (recovery: the stored map is the truth). */
    async setOwned(c: Queryable, clusterId: string, partitions: readonly number[], version: number): Promise<void> {
      await c.query('BEGIN');
      try {
        await c.query("SELECT set_config('synchronous_commit', 'on', true)");
        await c.query(`DELETE FROM ${owned} WHERE cluster_id = $1 AND NOT (partition = ANY($2::int[]))`, [
          clusterId,
          partitions,
        ]);
        await this.grant(c, clusterId, partitions, version);
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    },

    /** Session-level lock on the coordinator serialising the seeding of one cluster's map. */
    async lockSeed(c: Queryable, clusterId: string): Promise<void> {
      await c.query(`SELECT pg_advisory_lock(hashtext('pgm_partition_seed:' || $1::text), 0)`, [clusterId]);
    },
    async unlockSeed(c: Queryable, clusterId: string): Promise<void> {
      await c.query(`SELECT pg_advisory_unlock(hashtext('pgm_partition_seed:' || $1::text), 0)`, [clusterId]);
    },
  };
}

export type MapStore = ReturnType<typeof createMapStore>;
