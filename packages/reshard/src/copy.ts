import { PgmError } from '@pg-multiverse/core';
import { subscriptionConninfo } from './conninfo.js';
import { countRows, type MoveContext } from './move-context.js';
import {
  createPublication,
  createSubscription,
  replicationName,
  slotState,
  subscriptionErrors,
  subscriptionTables,
} from './replication.js';
import type { MoveProgress } from './types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The copy: publication with the moving partitions' row filter on the source, subscription on the
 * target, then progress (rows, bytes, lag) every `intervalMs` until every table finished its
 * initial copy and the stream is within `cutoverLagBytes` of the source. Idempotent (a resumed
 * move finds its publication and subscription in place).
 */
export async function runCopy(
  ctx: MoveContext,
  opts: { intervalMs: number; cutoverLagBytes: number; timeoutMs: number; onProgress: (p: MoveProgress) => void },
): Promise<MoveProgress> {
  const name = replicationName(ctx.record.id);
  const totals = await countRows(ctx, 'source');
  const rowsTotal = [...totals.values()].reduce((a, b) => a + b, 0);
  await createPublication(ctx.source.primary, name, ctx.tables, ctx.sourceFilter);
  await createSubscription(ctx.target.primary, name, await subscriptionConninfo(ctx.source.connection));
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const [tables, slot] = await Promise.all([
      subscriptionTables(ctx.target.primary, name),
      slotState(ctx.source.primary, name),
    ]);
    const ready = tables.filter((t) => t.state === 'r' || t.state === 's');
    const progress: MoveProgress = {
      moveId: ctx.record.id,
      cluster: ctx.cluster.id,
      source: ctx.source.id,
      target: ctx.target.id,
      partitions: ctx.record.partitions,
      phase: ready.length === tables.length && tables.length > 0 ? 'catch-up' : 'copy',
      rowsTotal,
      rowsCopied: tables.reduce(
        (sum, t) => sum + (t.state === 'r' || t.state === 's' ? (totals.get(t.table) ?? 0) : t.rows),
        0,
      ),
      bytesCopied: tables.reduce((sum, t) => sum + t.bytes, 0),
      lagBytes: Number.isNaN(slot.lagBytes) ? -1 : slot.lagBytes,
      tablesReady: ready.length,
      tablesTotal: ctx.tables.length,
    };
    opts.onProgress(progress);
    if (
      tables.length === ctx.tables.length &&
      tables.every((t) => t.state === 'r') &&
      slot.exists &&
      slot.lagBytes <= opts.cutoverLagBytes
    ) {
      return progress;
    }
    if (Date.now() > deadline) {
      const errors = await subscriptionErrors(ctx.target.primary, name).catch(() => ({ apply: 0, sync: 0 }));
      throw new PgmError(
        'MOVE_FAILED',
        `The copy of partitions ${ctx.record.partitions.join(',')} of "${ctx.cluster.id}" from ${ctx.source.id} to ${ctx.target.id} did not catch up within copyTimeoutMs (${opts.timeoutMs} ms): ${progress.tablesReady}/${progress.tablesTotal} tables copied, ${progress.lagBytes} bytes behind, ${errors.apply} apply and ${errors.sync} table-sync errors on the target (see its server log)`,
        { clusterId: ctx.cluster.id, details: { progress, errors } },
      );
    }
    await sleep(opts.intervalMs);
  }
}
