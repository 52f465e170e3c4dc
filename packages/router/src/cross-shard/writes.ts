import { analyzeShardKey, buildInsertRows, PgmError, type SqlTextAnalysis } from '@pg-multiverse/core';
import type { Plan } from '../planner.js';
import { groupOfPartition, partitionsOfValues, type ShardTargets } from '../shard.js';
import type { ClusterRuntime, GroupRuntime } from '../topology.js';
import { crossShardRefusal } from './refusal.js';
import { withStrayFilter } from './stray-filter.js';

/** One shard's statement of a cross-shard write (`router.shardWrites`). */
export interface ShardWrite {
  /** The listed shard (`sharding.shards[i].id`) that runs it. */
  readonly shardId: string;
  readonly sql: string;
  readonly params: readonly unknown[];
  /** A split multi-row INSERT: the indexes (0-based) of the original VALUES rows this statement inserts, in order. */
  readonly rows?: readonly number[];
}

/** Statements that change the schema of every shard: sent to every shard. */
const DDL = new Set(['CREATE', 'ALTER', 'DROP', 'TRUNCATE', 'COMMENT', 'GRANT', 'REVOKE']);

function commandOf(analysis: SqlTextAnalysis): string {
  return analysis.statements.length === 1 ? analysis.statements[0]!.command : '';
}

/**
 * The write rules of planning on a cluster sharded over several groups: a statement that assigns
 * the key column is refused (`SHARD_KEY_UPDATE`, with or without a `shardKey`: the row would have to
 * move to another shard), and DDL without a `shardKey` concerns every shard.
 */
export function writeTargets(
  c: ClusterRuntime,
  sql: string,
  analysis: SqlTextAnalysis,
  targets: ShardTargets,
  explicitKey: boolean,
): ShardTargets {
  const s = c.cfg.sharding!;
  if (analyzeShardKey(sql, s.key).updatesKey) {
    throw new PgmError(
      'SHARD_KEY_UPDATE',
      `Cluster "${c.id}" is sharded by "${s.key}": this statement assigns "${s.key}" (SET ${s.key} = ...), which would move rows to another shard; delete the rows and insert them with their new key instead (in one withTransaction for atomicity)`,
      { clusterId: c.id },
    );
  }
  if (explicitKey) return targets;
  const command = commandOf(analysis);
  if (DDL.has(command)) return { ...targets, partitions: undefined, groups: c.groups, reason: 'DDL: every shard' };
  if (targets.analysis?.values?.length === 0) {
    // A write that names no table (CALL, DO, SELECT of a writing function): which shard it is for is a guess.
    throw new PgmError(
      'CROSS_SHARD_UNSUPPORTED',
      `Cluster "${c.id}" is sharded by "${s.key}": this ${command || 'statement'} writes but names no table, so nothing says which shard it is for; pass { shardKey } to run it on the shard of one key (or once per shard with each shard's key)`,
      { clusterId: c.id, details: { construct: `a ${command || 'statement'} without a table` } },
    );
  }
  return targets;
}

/** A multi-row INSERT ... VALUES: one statement per shard with the rows its keys name. */
function splitInsert(p: Plan, params: readonly unknown[]): ShardWrite[] {
  const c = p.cluster;
  const key = c.cfg.sharding!.key;
  const ins = analyzeShardKey(p.sql, key).insert;
  if (!ins) {
    throw crossShardRefusal(
      p,
      'an INSERT that is not a plain INSERT ... VALUES (INSERT ... SELECT, WITH ... INSERT, DEFAULT VALUES)',
      `list the rows in VALUES with the "${key}" column`,
    );
  }
  if (ins.columns.length === 0) {
    throw crossShardRefusal(p, 'an INSERT without a column list', `name the columns, including "${key}"`);
  }
  if (ins.keyColumn < 0) {
    throw new PgmError(
      'SHARD_KEY_REQUIRED',
      `Cluster "${c.id}" is sharded by "${key}", which this INSERT's column list (${ins.columns.join(', ')}) does not name: every row needs its key to be placed on its shard`,
      { clusterId: c.id },
    );
  }
  const byGroup = new Map<GroupRuntime, number[]>();
  ins.rows.forEach((row, i) => {
    if (row.key === undefined) {
      throw crossShardRefusal(
        p,
        `row ${i + 1} of the INSERT, whose "${key}" is an expression or DEFAULT`,
        'give the key as a constant or a $n parameter: it must be known before the row is sent',
      );
    }
    // The key typed as the planner types it; a NULL key is partition 0, as PostgreSQL places it.
    const parts = partitionsOfValues(c, [row.key], params);
    if (parts === undefined || parts.length !== 1) {
      throw new PgmError(
        'INVALID_ARGUMENT',
        `row ${i + 1} of the INSERT takes its "${key}" from a parameter that was not given (${params.length} given)`,
        { clusterId: c.id },
      );
    }
    const g = groupOfPartition(c, parts[0]!);
    const list = byGroup.get(g);
    if (list) list.push(i);
    else byGroup.set(g, [i]);
  });
  return c.groups
    .filter((g) => byGroup.has(g))
    .map((g) => {
      const rows = byGroup.get(g)!;
      if (byGroup.size === 1) return { shardId: g.shardId!, sql: p.sql, params, rows };
      const built = buildInsertRows(p.sql, ins.rows, rows, params);
      return { shardId: g.shardId!, sql: built.text, params: built.values, rows };
    });
}

/**
 * The statements of a cross-shard write, one per shard: a multi-row `INSERT ... VALUES` is split by
 * its rows' keys (parameters renumbered per statement); `UPDATE`/`DELETE` and DDL run as they are on
 * every shard the plan concerns (the shards their keys name, or all). Anything else is refused
 * (`CROSS_SHARD_UNSUPPORTED`), never guessed.
 */
export function shardWrites(
  p: Plan,
  params: readonly unknown[],
  strayFilter: (shardId: string) => string | undefined = () => undefined,
): ShardWrite[] {
  if (p.analysis.multiStatement) {
    throw crossShardRefusal(p, 'a text of several statements', 'send them one by one');
  }
  const command = commandOf(p.analysis);
  const plain = !/^\s*\(*\s*with\b/i.test(p.sql.slice(p.analysis.statements[0]?.start ?? 0));
  if (command === 'INSERT' && plain) return splitInsert(p, params);
  if ((command === 'UPDATE' || command === 'DELETE') && plain) {
    // A shard holding stray rows (a partition move) writes only the rows of partitions it owns.
    return p.groups.map((g) => {
      const pred = strayFilter(g.shardId!);
      if (pred === undefined) return { shardId: g.shardId!, sql: p.sql, params };
      const st = p.analysis.statements[0]!;
      const f = withStrayFilter(p.sql, pred, [...new Set([...st.written, ...st.read])]);
      if ('refused' in f) {
        throw crossShardRefusal(
          p,
          `${f.refused} while shard "${g.shardId}" holds stray rows of a partition move`,
          'only a write to one table can be filtered to the partitions each shard owns; pass { shardKey }, or run it after the move cleanup',
        );
      }
      return { shardId: g.shardId!, sql: f.text, params };
    });
  }
  if (DDL.has(command)) return p.groups.map((g) => ({ shardId: g.shardId!, sql: p.sql, params }));
  throw crossShardRefusal(p, command === '' ? 'this statement' : `a ${plain ? '' : 'WITH ... '}${command} statement`);
}
