import type { ConnectionProvider } from '@pg-multiverse/core';
import type { MoveContext } from './move-context.js';
import type { MovingTable } from './moving-tables.js';
import { dropPublication, dropSubscription, replicationName } from './replication.js';

/** Drops a move's subscription (target), slot and publication (source). Idempotent. */
export async function dropReplication(ctx: MoveContext): Promise<void> {
  const name = replicationName(ctx.record.id);
  await dropSubscription(ctx.target.primary, ctx.source.primary, name);
  await dropPublication(ctx.source.primary, name);
}

/**
 * Deletes the rows matching `filter` from `tables` on a shard, `batchSize` rows per transaction
 * (short locks, short transactions), with the ownership guard bypassed for those transactions only.
 * Returns the rows deleted.
 */
export async function deleteInBatches(
  p: ConnectionProvider,
  tables: readonly MovingTable[],
  filter: string,
  batchSize: number,
  bypass: { name: string; value: string },
): Promise<number> {
  let total = 0;
  for (const t of tables) {
    for (;;) {
      const n = await p.withConnection(async (c) => {
        await c.query('BEGIN');
        try {
          await c.query('SELECT set_config($1, $2, true)', [bypass.name, bypass.value]);
          const r = await c.query(
            `DELETE FROM ${t.qualified} WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${t.qualified} WHERE ${filter} LIMIT ${Math.max(1, Math.floor(batchSize))}))`,
          );
          await c.query('COMMIT');
          return r.rowCount ?? 0;
        } catch (err) {
          await c.query('ROLLBACK').catch(() => {});
          throw err;
        }
      });
      total += n;
      if (n === 0) break;
    }
  }
  return total;
}
