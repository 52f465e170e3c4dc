import { PgmError, quoteIdent, redactSecrets, type ShardKeyType } from '@pg-multiverse/core';
import { type MovingTable, scanTables } from './moving-tables.js';
import { defaultHashType, partitionPredicate } from './row-filter.js';
import { ensureShardControl } from './shard-control.js';
import type { ClusterAccess, MoveRecord, ShardAccess } from './types.js';

/** What every step of one move works with: both shards, the tables, the row filters. */
export interface MoveContext {
  cluster: ClusterAccess;
  record: MoveRecord;
  source: ShardAccess;
  target: ShardAccess;
  tables: MovingTable[];
  /** Tables of the schemas without the shard key column (not moved). */
  skipped: string[];
  type: ShardKeyType;
  /** The moving partitions' predicate, for statements on the source and on the target. */
  sourceFilter: string;
  targetFilter: string;
}

export function shardOf(cluster: ClusterAccess, id: string): ShardAccess {
  const s = cluster.shards.find((x) => x.id === id);
  if (!s) {
    throw new PgmError(
      'MOVE_REFUSED',
      `Cluster "${cluster.id}" has no shard "${id}"; its shards are ${cluster.shards.map((x) => x.id).join(', ')}. Add the server to sharding.shards (with partitions: []) first`,
      { clusterId: cluster.id },
    );
  }
  return s;
}

/** Reads the source's tables (refusing what cannot move) and sets up the row filters. */
export async function moveContext(cluster: ClusterAccess, record: MoveRecord): Promise<MoveContext> {
  const source = shardOf(cluster, record.source);
  const target = shardOf(cluster, record.target);
  const scan = await scanTables(source.primary, cluster.schemas, cluster.key);
  if (scan.problems.length > 0) {
    throw new PgmError('MOVE_REFUSED', `Cannot move partitions of "${cluster.id}": ${scan.problems.join('; ')}`, {
      clusterId: cluster.id,
      details: { problems: scan.problems },
    });
  }
  if (scan.tables.length === 0) {
    throw new PgmError(
      'MOVE_REFUSED',
      `Cannot move partitions of "${cluster.id}": no table of its schemas (${cluster.schemas.join(', ')}) on ${source.id} has the shard key column "${cluster.key}"`,
      { clusterId: cluster.id },
    );
  }
  const types = new Set(scan.tables.map((t) => cluster.keyType ?? defaultHashType(t.keyType)));
  if (types.size > 1) {
    throw new PgmError(
      'MOVE_REFUSED',
      `Cannot move partitions of "${cluster.id}": its tables' "${cluster.key}" columns hash differently (${[...types].join(', ')}); set sharding.keyType`,
      { clusterId: cluster.id },
    );
  }
  const type = [...types][0]!;
  const [srcOid, tgtOid] = await Promise.all([
    ensureShardControl(source.primary, type),
    ensureShardControl(target.primary, type),
  ]);
  const filter = (helperOid: number) =>
    partitionPredicate({
      helperOid,
      modulus: cluster.partitions,
      partitions: record.partitions,
      keyExpr: quoteIdent(cluster.key),
      type,
    });
  return {
    cluster,
    record,
    source,
    target,
    tables: scan.tables,
    skipped: scan.skipped,
    type,
    sourceFilter: filter(srcOid),
    targetFilter: filter(tgtOid),
  };
}

/** Rows of the moving partitions on one side, per table. */
export async function countRows(ctx: MoveContext, side: 'source' | 'target'): Promise<Map<string, number>> {
  const p = side === 'source' ? ctx.source.primary : ctx.target.primary;
  const f = side === 'source' ? ctx.sourceFilter : ctx.targetFilter;
  const out = new Map<string, number>();
  for (const t of ctx.tables) {
    const r = await p.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${t.qualified} WHERE ${f}`);
    out.set(`${t.schema}.${t.table}`, Number(r.rows[0]!.n));
  }
  return out;
}

/** An error with the configured passwords taken out of its message. */
export function redacted(err: unknown, secrets: readonly string[]): string {
  return redactSecrets(err instanceof Error ? err.message : String(err), secrets);
}
