import {
  assignedColumns,
  buildInsertRows,
  type InsertCell,
  PgmError,
  parseInsertValues,
  type SqlTextAnalysis,
} from '@pg-multiverse/core';
import { groupOfPartition, partitionOf } from './shard.js';
import type { ClusterRuntime, GroupRuntime } from './topology.js';

/** One statement of a write on a sharded cluster, for one shard. */
export interface ShardStatement {
  readonly group: GroupRuntime;
  readonly sql: string;
  readonly params: readonly unknown[];
  /** A split multi-row INSERT: the indexes of the original rows this statement inserts, in order. */
  readonly rows?: readonly number[];
}

/** Statements that change the schema of every shard: sent to every shard. */
const DDL = new Set(['CREATE', 'ALTER', 'DROP', 'TRUNCATE', 'COMMENT', 'GRANT', 'REVOKE']);

function unsupported(c: ClusterRuntime, what: string, hint: string): PgmError {
  const key = c.cfg.sharding!.key;
  return new PgmError(
    'CROSS_SHARD_UNSUPPORTED',
    `Cluster "${c.id}" is sharded by "${key}": ${what} cannot be split across its shards; ${hint}`,
    { clusterId: c.id },
  );
}

/** A key cell's value, typed for the hash: numbers stay numbers unless the key type is text/uuid. */
function cellKey(c: ClusterRuntime, cell: InsertCell, params: readonly unknown[], row: number): unknown {
  const s = c.cfg.sharding!;
  const where = `row ${row + 1} of the INSERT`;
  switch (cell.kind) {
    case 'param':
      if (cell.index > params.length) {
        throw new PgmError(
          'INVALID_ARGUMENT',
          `${where} takes its "${s.key}" from $${cell.index}, but only ${params.length} parameter(s) were given`,
          { clusterId: c.id },
        );
      }
      return params[cell.index - 1];
    case 'literal':
      if (cell.numeric && s.keyType === undefined && /^-?\d+$/.test(cell.value)) return BigInt(cell.value);
      return cell.value;
    case 'null':
    case 'default':
      throw new PgmError(
        'SHARD_KEY_REQUIRED',
        `${where} has no value for the shard key "${s.key}" (${cell.kind === 'null' ? 'NULL' : 'DEFAULT'}): every row of a sharded table needs one, so it can be placed on its shard`,
        { clusterId: c.id },
      );
    default:
      throw unsupported(
        c,
        `${where} computes its "${s.key}" with an expression`,
        'give the key as a constant or a $n parameter (the key must be known before the row is sent)',
      );
  }
}

/** A multi-row INSERT ... VALUES: one statement per shard with the rows its keys name. */
function splitInsert(c: ClusterRuntime, sql: string, params: readonly unknown[]): ShardStatement[] {
  const key = c.cfg.sharding!.key;
  const parsed = parseInsertValues(sql);
  if (!parsed) {
    throw unsupported(
      c,
      'an INSERT that is not a plain INSERT ... VALUES (INSERT ... SELECT, WITH ... INSERT, DEFAULT VALUES)',
      `pass { shardKey } to run it on one shard, or list the rows in VALUES with the "${key}" column`,
    );
  }
  if (!parsed.columns) {
    throw unsupported(
      c,
      'an INSERT without a column list',
      `name the columns, including "${key}": INSERT INTO ${parsed.table.name} (${key}, ...) VALUES (...)`,
    );
  }
  const at = parsed.columns.indexOf(key);
  if (at < 0) {
    throw new PgmError(
      'SHARD_KEY_REQUIRED',
      `Cluster "${c.id}" is sharded by "${key}", which this INSERT's column list (${parsed.columns.join(', ')}) does not name: every row needs its key to be placed on its shard`,
      { clusterId: c.id },
    );
  }
  const byGroup = new Map<GroupRuntime, number[]>();
  parsed.rows.forEach((row, i) => {
    const cell = row.cells[at];
    if (cell === undefined) {
      throw new PgmError('INVALID_ARGUMENT', `row ${i + 1} of the INSERT has fewer values than columns`, {
        clusterId: c.id,
      });
    }
    const value = cellKey(c, cell, params, i);
    const g = groupOfPartition(c, partitionOf(c, value, `row ${i + 1} of the INSERT has a NULL "${key}"`));
    const list = byGroup.get(g);
    if (list) list.push(i);
    else byGroup.set(g, [i]);
  });
  if (byGroup.size === 1) {
    const [g] = byGroup.keys();
    return [{ group: g!, sql, params, rows: parsed.rows.map((_, i) => i) }];
  }
  return [...byGroup].map(([group, rows]) => {
    const built = buildInsertRows(sql, parsed.rows, rows, params);
    return { group, sql: built.text, params: built.values, rows };
  });
}

/**
 * Refuse a statement that assigns the shard key of a cluster sharded over several groups:
 * the row would have to move to another shard. Applies with or without a shard key.
 */
export function checkKeyNotAssigned(c: ClusterRuntime, sql: string): void {
  const s = c.cfg.sharding;
  if (!s || c.groups.length < 2) return;
  if (!assignedColumns(sql).includes(s.key)) return;
  throw new PgmError(
    'SHARD_KEY_UPDATE',
    `Cluster "${c.id}" is sharded by "${s.key}": this statement assigns "${s.key}" (SET ${s.key} = ...), which would move rows to another shard; delete the rows and insert them with their new key (in one withTransaction for atomicity)`,
    { clusterId: c.id },
  );
}

/**
 * How a write without a `shardKey` runs on a cluster sharded over several groups: the
 * statements per shard. A multi-row `INSERT ... VALUES` is split by the rows' keys
 * (`groupOfPartition`); `UPDATE`/`DELETE` go to `keyed` (the groups the statement's
 * keys name, when known) or else to every shard; DDL goes to every shard. Anything
 * else is refused (`CROSS_SHARD_UNSUPPORTED`), never guessed.
 */
export function shardWrites(
  c: ClusterRuntime,
  sql: string,
  analysis: SqlTextAnalysis,
  params: readonly unknown[],
  keyed?: readonly GroupRuntime[],
): ShardStatement[] {
  checkKeyNotAssigned(c, sql);
  if (analysis.multiStatement) {
    throw unsupported(c, 'a text of several statements', 'send them one by one, or pass { shardKey }');
  }
  const command = analysis.statements[0]?.command ?? '';
  const first = analysis.statements[0];
  const plainStart = first !== undefined && !/^\s*with\b/i.test(sql.slice(first.start));
  if (command === 'INSERT' && plainStart) return splitInsert(c, sql, params);
  const everywhere = (groups: readonly GroupRuntime[]) => groups.map((group) => ({ group, sql, params }));
  if ((command === 'UPDATE' || command === 'DELETE') && plainStart) return everywhere(keyed ?? c.groups);
  if (DDL.has(command)) return everywhere(c.groups);
  throw unsupported(
    c,
    command === '' ? 'this statement' : `a ${command === 'INSERT' ? 'WITH ... INSERT' : command} statement`,
    'pass { shardKey } to run it on the shard of one key',
  );
}
