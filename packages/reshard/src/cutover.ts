import { PgmError } from '@pg-multiverse/core';
import type { MoveContext } from './move-context.js';
import { currentLsn, replicationName, slotState } from './replication.js';
import type { CutoverHold, CutoverReport, MoveRecord } from './types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class CutoverAbort extends Error {}

/**
 * One cutover attempt, bounded by `holdTimeoutMs` from the moment writes are held:
 *
 * 1. hold this process's writes of the moving partitions (queued, at most `maxQueued`; the ones
 *    running finish first);
 * 2. journal `fencing`, then fence: the source's guard refuses those partitions from now on, for
 *    every instance, once the writes in flight there committed; its WAL position L after the fence;
 * 3. wait until the subscription confirmed L: the target has every write the source accepted;
 * 4. copy the moving tables' sequence positions to the target (sequences are not replicated);
 * 5. journal `committing`, commit the new map version (compare-and-set, announced; the target takes
 *    the writes, the held ones are released to it), journal `committed`.
 *
 * The hold giving up (timeout, queue bound) or any failure before the commit releases the hold (the
 * fence is lifted, the writes go to the source) and journals `copying`: the attempt is aborted,
 * never the writes. A commit whose answer was lost is settled by reading the map.
 */
export async function cutover(
  ctx: MoveContext,
  step: (rec: MoveRecord, to: MoveRecord['state'], extra?: { mapVersion?: number }) => Promise<MoveRecord>,
  record: MoveRecord,
  opts: { holdTimeoutMs: number; maxQueued: number; attempt: number },
): Promise<{ record: MoveRecord; report?: CutoverReport; abortReason?: string; holdMs: number }> {
  const { map } = ctx.cluster;
  const partitions = ctx.record.partitions;
  const t0 = performance.now();
  let rec = record;
  let hold: CutoverHold;
  try {
    hold = await map.hold(partitions, { timeoutMs: opts.holdTimeoutMs, maxQueued: opts.maxQueued });
  } catch (err) {
    // The hold gave up before it was in place (its timeout while writes in flight finished): nothing to undo.
    if (err instanceof PgmError && (err as { code: string }).code === 'MOVE_ABORTED') {
      return { record: rec, abortReason: err.message, holdMs: performance.now() - t0 };
    }
    throw err;
  }
  const steps = { acquireMs: performance.now() - t0, fenceMs: 0, catchUpMs: 0, commitMs: 0 };
  let mark = performance.now();
  const lap = () => {
    const now = performance.now();
    const d = now - mark;
    mark = now;
    return d;
  };
  const check = (what: string) => {
    if (hold.signal.aborted) {
      const why = hold.signal.reason instanceof Error ? hold.signal.reason.message : 'the hold gave up';
      throw new CutoverAbort(`${why} (${what})`);
    }
  };
  try {
    rec = await step(rec, 'fencing');
    check('before the fence');
    lap();
    const positions = await hold.fence();
    steps.fenceMs = lap();
    const lsn = positions[ctx.source.id];
    if (!lsn) throw new Error(`the fence returned no WAL position for the source ${ctx.source.id}`);
    const name = replicationName(rec.id);
    for (;;) {
      check(`before the target caught up to ${lsn}`);
      const s = await slotState(ctx.source.primary, name, lsn);
      if (!s.exists) throw new Error(`the replication slot ${name} is gone from ${ctx.source.id}`);
      if (s.reached) break;
      await sleep(2);
    }
    await syncSequences(ctx);
    steps.catchUpMs = lap();
    check('before the map commit');
    rec = await step(rec, 'committing');
    const owners: Record<number, string> = {};
    for (const p of partitions) owners[p] = ctx.target.id;
    const heldWrites = hold.maxQueuedSeen;
    let version: number;
    try {
      version = (await hold.commit(owners)).version;
    } catch (err) {
      const now = await map.read();
      if (!partitions.every((p) => now.owners[p] === ctx.target.id)) throw err;
      version = now.version;
    }
    const holdMs = performance.now() - t0;
    const window = { from: performance.timeOrigin + t0, to: performance.timeOrigin + t0 + holdMs };
    steps.commitMs = lap();
    rec = await step(rec, 'committed', { mapVersion: version });
    const targetPosition = await currentLsn(ctx.target.primary);
    return {
      record: rec,
      holdMs,
      report: { holdMs, steps, window, attempts: opts.attempt, targetPosition, mapVersion: version, heldWrites },
    };
  } catch (err) {
    const holdMs = performance.now() - t0;
    try {
      await hold.release();
      if (rec.state === 'committing') {
        const now = await map.read();
        if (partitions.every((p) => now.owners[p] === ctx.target.id)) {
          rec = await step(rec, 'committed', { mapVersion: now.version });
          return {
            record: rec,
            holdMs,
            report: {
              holdMs,
              steps,
              window: { from: performance.timeOrigin + t0, to: performance.timeOrigin + t0 + holdMs },
              attempts: opts.attempt,
              targetPosition: '',
              mapVersion: now.version,
              heldWrites: 0,
            },
          };
        }
      }
      if (rec.state !== 'copying') rec = await step(rec, 'copying');
    } catch (undo) {
      throw new PgmError(
        'MOVE_NEEDS_RECOVERY',
        `The cutover of move ${rec.id} ("${ctx.cluster.id}") failed and could not be undone (${(undo as Error).message}); run recoverMoves()`,
        { clusterId: ctx.cluster.id, cause: err },
      );
    }
    if (err instanceof CutoverAbort) return { record: rec, abortReason: err.message, holdMs };
    const code = (err as { code?: string }).code;
    if (err instanceof PgmError && (code === 'MOVE_ABORTED' || code === 'PARTITION_MAP_CONFLICT')) {
      return { record: rec, abortReason: err.message, holdMs };
    }
    throw err;
  }
}

/** Sequences owned by moving tables: the target's must not hand out values the source already did. */
async function syncSequences(ctx: MoveContext): Promise<void> {
  for (const t of ctx.tables) {
    for (const seq of t.sequences) {
      const r = await ctx.source.primary.query<{ v: string | null }>(
        `SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END::text AS v FROM ${seq}`,
      );
      const v = r.rows[0]?.v;
      if (v === null || v === undefined || BigInt(v) < 1n) continue;
      await ctx.target.primary.query(
        `SELECT setval($1::regclass, greatest($2::bigint, (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM ${seq})), true)`,
        [seq, v],
      );
    }
  }
}
