import { PgmError } from '@pg-multiverse/core';
import type { MoveJournal } from './journal.js';
import type { MoveContext } from './move-context.js';
import { currentLsn, replicationName, slotState } from './replication.js';
import type { CutoverReport, MoveRecord } from './types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class CutoverAbort extends Error {}

/**
 * One cutover attempt, every step bounded by `holdTimeoutMs` from the moment writes are held:
 *
 * 1. hold this process's writes of the moving partitions (queued, at most `maxQueued`);
 * 2. journal `fencing`, then fence the source (its guard refuses those partitions from now on, for
 *    every instance; writes in flight finish first) and read its WAL position L;
 * 3. wait until the subscription confirmed L: the target has every write the source accepted;
 * 4. copy the moving tables' sequence positions to the target (sequences are not replicated);
 * 5. journal `committing`, commit the new map version (compare-and-set) naming the target's WAL
 *    position, journal `committed`;
 * 6. release the held writes: they go to the new owner.
 *
 * Any failure or the deadline before the map commit undoes the fence (the source owns the
 * partitions again), journals `copying` and releases the writes to the source: the attempt is
 * aborted, never the writes. A commit whose outcome is unknown is settled by reading the map.
 */
export async function cutover(
  ctx: MoveContext,
  journal: MoveJournal,
  record: MoveRecord,
  opts: { holdTimeoutMs: number; maxQueued: number; attempt: number },
): Promise<{ record: MoveRecord; report?: CutoverReport; abortReason?: string; holdMs: number }> {
  const { map } = ctx.cluster;
  const before = await map.read();
  const t0 = performance.now();
  const deadline = t0 + opts.holdTimeoutMs;
  const remaining = () => deadline - performance.now();
  let overflow = false;
  const hold = map.hold(ctx.record.partitions, { maxQueued: opts.maxQueued, onOverflow: () => (overflow = true) });
  const check = (what: string) => {
    if (overflow) throw new CutoverAbort(`more than ${opts.maxQueued} writes queued (maxQueuedWrites) ${what}`);
    if (remaining() <= 0) throw new CutoverAbort(`holdTimeoutMs (${opts.holdTimeoutMs} ms) passed ${what}`);
  };
  let rec = record;
  let fenced = false;
  try {
    rec = await journal.transition(rec, 'fencing');
    check('before the fence');
    fenced = true;
    const lsn = await map.revoke(ctx.source.id, ctx.record.partitions, Math.max(1, remaining()));
    check('while fencing the source');
    const name = replicationName(rec.id);
    for (;;) {
      const s = await slotState(ctx.source.primary, name, lsn);
      if (!s.exists) throw new CutoverAbort(`the replication slot ${name} is gone`);
      if (s.reached) break;
      check(`before the target caught up to ${lsn}`);
      await sleep(2);
    }
    await syncSequences(ctx);
    const targetPosition = await currentLsn(ctx.target.primary);
    check('before the map commit');
    rec = await journal.transition(rec, 'committing');
    let version: number;
    try {
      version = await map.commit({
        expectedVersion: before.version,
        partitions: ctx.record.partitions,
        from: ctx.source.id,
        to: ctx.target.id,
        targetPosition,
      });
    } catch (err) {
      const now = await map.read();
      if (!ctx.record.partitions.every((p) => now.owners[p] === ctx.target.id)) throw err;
      version = now.version;
    }
    rec = await journal.transition(rec, 'committed', { mapVersion: version });
    const holdMs = performance.now() - t0;
    hold.release();
    return {
      record: rec,
      holdMs,
      report: {
        holdMs,
        attempts: opts.attempt,
        targetPosition,
        mapVersion: version,
        heldWrites: hold.queued ?? 0,
      },
    };
  } catch (err) {
    try {
      if (rec.state === 'committing') {
        const now = await map.read();
        if (ctx.record.partitions.every((p) => now.owners[p] === ctx.target.id)) {
          rec = await journal.transition(rec, 'committed', { mapVersion: now.version });
          const holdMs = performance.now() - t0;
          hold.release();
          return {
            record: rec,
            holdMs,
            report: { holdMs, attempts: opts.attempt, targetPosition: '', mapVersion: now.version, heldWrites: 0 },
          };
        }
      }
      if (fenced) await map.grant(ctx.source.id, ctx.record.partitions);
      if (rec.state !== 'copying') rec = await journal.transition(rec, 'copying');
    } catch (undo) {
      hold.release();
      throw new PgmError(
        'MOVE_NEEDS_RECOVERY',
        `The cutover of move ${rec.id} ("${ctx.cluster.id}") failed and could not be undone (${(undo as Error).message}); run recoverMoves()`,
        { clusterId: ctx.cluster.id, cause: err },
      );
    }
    hold.release();
    if (err instanceof CutoverAbort) return { record: rec, abortReason: err.message, holdMs: performance.now() - t0 };
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
