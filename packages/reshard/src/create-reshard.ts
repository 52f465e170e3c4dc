import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { PgmError, quoteIdent, redactError } from '@pg-multiverse/core';
import { deleteInBatches, dropReplication } from './cleanup.js';
import { runCopy } from './copy.js';
import { cutover } from './cutover.js';
import { MoveJournal } from './journal.js';
import { countRows, type MoveContext, moveContext, redacted, shardOf } from './move-context.js';
import { compareSchemas, scanTables } from './moving-tables.js';
import { formatRebalancePlan, planRebalance, type RebalancePlan } from './plan-rebalance.js';
import { defaultHashType, partitionPredicate } from './row-filter.js';
import { ensureShardControl } from './shard-control.js';
import type {
  ClusterAccess,
  CutoverReport,
  MovePartitionsOptions,
  MoveRecord,
  MoveReport,
  ReshardEnvironment,
  ReshardEvents,
} from './types.js';

/** What `recoverMoves` did with one interrupted move. */
export interface RecoveredMove {
  move: MoveRecord;
  /** `finished`: the map had moved the partitions, cleanup ran; `rolledBack`: the source owns them, copies removed. */
  outcome: 'finished' | 'rolledBack';
}

export interface RebalanceOptions extends Omit<MovePartitionsOptions, 'partitions' | 'to'> {
  /** Shard ids to spread the partitions over (a new one included); shards not listed are emptied. */
  servers: readonly string[];
  /** Only plan: return the plan (and `text`) without moving anything. */
  dryRun?: boolean;
}

export interface RebalanceReport {
  plan: RebalancePlan;
  /** The plan as printed by the dry run. */
  text: string;
  dryRun: boolean;
  moves: MoveReport[];
}

/** The move engine of `createReshard`. */
export interface Reshard {
  /** Move partitions of a sharded cluster to another shard online (see the README for every step). */
  movePartitions(options: MovePartitionsOptions): Promise<MoveReport>;
  /** The moves that would spread the partitions evenly over `servers` (no change). */
  planRebalance(options: { cluster: string; servers: readonly string[] }): Promise<RebalancePlan>;
  /** Plan, then run the moves one after another (`dryRun`: only plan). */
  rebalance(options: RebalanceOptions & { cluster: string }): Promise<RebalanceReport>;
  /** Finish (map committed) or roll back (not committed) every move a crash interrupted. */
  recoverMoves(options?: { cluster?: string; cleanupDelayMs?: number }): Promise<RecoveredMove[]>;
  /** Delete rows that moves kept on their sources (`keepSource`), on every shard of the cluster. */
  cleanupMovedPartitions(options: {
    cluster: string;
    batchSize?: number;
  }): Promise<{ deleted: number; byShard: Record<string, number> }>;
  on<K extends keyof ReshardEvents>(event: K, listener: (...args: ReshardEvents[K]) => void): this;
  off<K extends keyof ReshardEvents>(event: K, listener: (...args: ReshardEvents[K]) => void): this;
}

const DEFAULTS = {
  keepSource: false,
  holdTimeoutMs: 5000,
  maxQueuedWrites: 10_000,
  cutoverAttempts: 3,
  cutoverLagBytes: 1024 * 1024,
  copyTimeoutMs: 3_600_000,
  deleteBatchSize: 5000,
  cleanupDelayMs: 15_000,
  progressIntervalMs: 500,
};

type Resolved = typeof DEFAULTS;

const POSITIVE: (keyof Resolved)[] = [
  'holdTimeoutMs',
  'maxQueuedWrites',
  'cutoverAttempts',
  'copyTimeoutMs',
  'deleteBatchSize',
  'progressIntervalMs',
];

function resolveOptions(o: Partial<MovePartitionsOptions>, clusterId: string): Resolved {
  const out = { ...DEFAULTS };
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined || k === 'cluster' || k === 'partitions' || k === 'to' || k === 'servers' || k === 'dryRun') {
      continue;
    }
    if (!(k in DEFAULTS)) {
      throw new PgmError(
        'INVALID_ARGUMENT',
        `movePartitions: unknown option "${k}"; known: ${Object.keys(DEFAULTS).join(', ')}`,
        {
          clusterId,
        },
      );
    }
    (out as Record<string, unknown>)[k] = v;
  }
  for (const k of POSITIVE) {
    const v = out[k] as number;
    if (!Number.isFinite(v) || v <= 0) {
      throw new PgmError('INVALID_ARGUMENT', `movePartitions: ${k} must be a positive number, got ${String(v)}`, {
        clusterId,
      });
    }
  }
  if (!Number.isFinite(out.cleanupDelayMs) || out.cleanupDelayMs < 0) {
    throw new PgmError('INVALID_ARGUMENT', 'movePartitions: cleanupDelayMs must be a number >= 0', { clusterId });
  }
  if (!Number.isFinite(out.cutoverLagBytes) || out.cutoverLagBytes < 0) {
    throw new PgmError('INVALID_ARGUMENT', 'movePartitions: cutoverLagBytes must be a number >= 0', { clusterId });
  }
  return out;
}

/**
 * The move engine over some sharded clusters (the facade builds the environment from the router,
 * its partition map and the migration manager).
 */
export function createReshard(env: ReshardEnvironment): Reshard {
  const emitter = new EventEmitter();
  const secrets = env.secrets ?? [];
  const emit = <K extends keyof ReshardEvents>(event: K, ...args: ReshardEvents[K]) => {
    emitter.emit(event, ...args);
  };
  const journals = new Map<string, MoveJournal>();
  const journalOf = async (c: ClusterAccess): Promise<MoveJournal> => {
    let j = journals.get(c.id);
    if (!j) {
      j = new MoveJournal(c.journal);
      await j.ensure();
      journals.set(c.id, j);
    }
    return j;
  };

  const step = async (
    journal: MoveJournal,
    rec: MoveRecord,
    to: MoveRecord['state'],
    extra: { mapVersion?: number; error?: string | null } = {},
  ) => {
    const next = await journal.transition(rec, to, extra);
    emit('moveStateChanged', { ...next, from: rec.state });
    return next;
  };

  /** The target gets the schema and must hold no row of the moving partitions. */
  async function prepare(ctx: MoveContext): Promise<void> {
    await ctx.cluster.prepareTarget(ctx.target.id, ctx.source.id);
    const [src, tgt] = await Promise.all([
      scanTables(ctx.source.primary, ctx.cluster.schemas, ctx.cluster.key),
      scanTables(ctx.target.primary, ctx.cluster.schemas, ctx.cluster.key),
    ]);
    compareSchemas(ctx.cluster.id, src, tgt, ctx.target.id);
    const held = [...(await countRows(ctx, 'target')).entries()].filter(([, n]) => n > 0);
    if (held.length > 0) {
      throw new PgmError(
        'MOVE_REFUSED',
        `Cannot move partitions ${ctx.record.partitions.join(',')} of "${ctx.cluster.id}" to ${ctx.target.id}: it already holds rows of them (${held.map(([t, n]) => `${t}: ${n}`).join(', ')}), left by an earlier move kept with keepSource; run cleanupMovedPartitions({ cluster: '${ctx.cluster.id}' }) first`,
        { clusterId: ctx.cluster.id },
      );
    }
  }

  /** Undo a move that has not committed: the source keeps (or gets back) the partitions. */
  async function rollback(ctx: MoveContext, journal: MoveJournal, reason: string): Promise<MoveRecord> {
    let rec = ctx.record;
    const map = await ctx.cluster.map.read();
    if (ctx.record.partitions.every((p) => map.owners[p] === ctx.target.id)) {
      throw new PgmError(
        'MOVE_NEEDS_RECOVERY',
        `Move ${rec.id} cannot be rolled back: the map already gives its partitions to ${ctx.target.id}`,
        { clusterId: rec.cluster },
      );
    }
    if (rec.state !== 'rolling_back') rec = await step(journal, rec, 'rolling_back', { error: reason });
    // A fence left by a crashed cutover is lifted: every shard's ownership follows the stored map again.
    await ctx.cluster.map.syncOwnership();
    await dropReplication(ctx);
    // Only tables the target has (a move refused for a schema mismatch may have stopped before them).
    const onTarget = new Set(
      (await scanTables(ctx.target.primary, ctx.cluster.schemas, ctx.cluster.key)).tables.map((t) => t.qualified),
    );
    await deleteInBatches(
      ctx.target.primary,
      ctx.tables.filter((t) => onTarget.has(t.qualified)),
      ctx.targetFilter,
      DEFAULTS.deleteBatchSize,
      ctx.cluster.map.guardBypass,
    );
    await ctx.cluster.map.updateStrays(ctx.target.id, { remove: [...ctx.record.partitions] });
    rec = await step(journal, rec, 'rolled_back');
    emit('moveRolledBack', { ...rec, reason });
    return rec;
  }

  async function finish(
    ctx: MoveContext,
    journal: MoveJournal,
    batchSize: number,
    delayMs: number,
  ): Promise<[MoveRecord, number]> {
    let rec = ctx.record;
    if (rec.state === 'committed') rec = await step(journal, rec, 'cleaning');
    await dropReplication(ctx);
    // Instances that have not heard of the new map yet still read from the old owner: its rows stay a while.
    if (!rec.keepSource && delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    const deleted = rec.keepSource
      ? 0
      : await deleteInBatches(ctx.source.primary, ctx.tables, ctx.sourceFilter, batchSize, ctx.cluster.map.guardBypass);
    rec = await step(journal, rec, 'done');
    return [rec, deleted];
  }

  /** Settle a move found in `committing`: the map says whether the commit happened. */
  async function settle(ctx: MoveContext, journal: MoveJournal): Promise<MoveRecord> {
    const map = await ctx.cluster.map.read();
    if (ctx.record.partitions.every((p) => map.owners[p] === ctx.target.id)) {
      return step(journal, ctx.record, 'committed', { mapVersion: map.version });
    }
    return ctx.record;
  }

  async function recoverOne(
    cluster: ClusterAccess,
    journal: MoveJournal,
    rec: MoveRecord,
    cleanupDelayMs: number,
  ): Promise<RecoveredMove> {
    let ctx: MoveContext;
    try {
      ctx = await moveContext(cluster, rec);
    } catch (err) {
      // Stopped while preparing (no publication or subscription yet) and refused now: nothing to undo
      // but the strays mark; the move is over.
      if (rec.state !== 'preparing' || !(err instanceof PgmError && err.code === 'MOVE_REFUSED')) throw err;
      await cluster.map.updateStrays(rec.target, { remove: [...rec.partitions] });
      const done = await step(journal, rec, 'rolled_back', { error: redacted(err, secrets) });
      emit('moveRolledBack', { ...done, reason: done.error ?? '' });
      return { move: done, outcome: 'rolledBack' };
    }
    if (rec.state === 'committing') ctx = { ...ctx, record: await settle(ctx, journal) };
    if (ctx.record.state === 'committed' || ctx.record.state === 'cleaning') {
      const [done] = await finish(ctx, journal, DEFAULTS.deleteBatchSize, cleanupDelayMs);
      return { move: done, outcome: 'finished' };
    }
    const done = await rollback(ctx, journal, `interrupted in state ${rec.state}; rolled back by recoverMoves()`);
    return { move: done, outcome: 'rolledBack' };
  }

  async function recoverCluster(
    cluster: ClusterAccess,
    journal: MoveJournal,
    cleanupDelayMs = DEFAULTS.cleanupDelayMs,
  ): Promise<RecoveredMove[]> {
    const out: RecoveredMove[] = [];
    const unfinished = await journal.unfinished(cluster.id);
    // A committed map whose new owner was not granted yet, or a fence of a crashed cutover: the stored map decides.
    if (unfinished.length > 0) await cluster.map.syncOwnership();
    for (const rec of unfinished) out.push(await recoverOne(cluster, journal, rec, cleanupDelayMs));
    return out;
  }

  async function runMove(ctx0: MoveContext, journal: MoveJournal, o: Resolved): Promise<MoveReport['moves'][number]> {
    const t0 = performance.now();
    const cluster = ctx0.cluster;
    const rec0 = ctx0.record;
    let ctx = ctx0;
    emit('moveStarted', rec0);
    let rowsCopied = 0;
    try {
      await prepare(ctx);
      // The target's copies are strays until the cutover: reads visiting every shard filter them out.
      await cluster.map.updateStrays(ctx.target.id, { add: [...ctx.record.partitions] });
      ctx = { ...ctx, record: await step(journal, ctx.record, 'copying') };
      const last = await runCopy(ctx, {
        intervalMs: o.progressIntervalMs,
        cutoverLagBytes: o.cutoverLagBytes,
        timeoutMs: o.copyTimeoutMs,
        onProgress: (p) => emit('moveProgress', p),
      });
      rowsCopied = last.rowsCopied;
    } catch (err) {
      const reason = redacted(err, secrets);
      await rollback(ctx, journal, reason).catch((undo) => {
        throw new PgmError(
          'MOVE_NEEDS_RECOVERY',
          `Moving partitions ${rec0.partitions.join(',')} of "${cluster.id}" failed (${reason}) and the rollback failed too (${redacted(undo, secrets)}); run recoverMoves({ cluster: '${cluster.id}' })`,
          { clusterId: cluster.id, cause: redactError(err as Error, secrets) },
        );
      });
      if (err instanceof PgmError && err.code === 'MOVE_REFUSED') throw redactError(err, secrets);
      throw new PgmError(
        'MOVE_FAILED',
        `Moving partitions ${rec0.partitions.join(',')} of "${cluster.id}" from ${rec0.source} to ${rec0.target} failed and was rolled back (the source still owns them): ${reason}`,
        { clusterId: cluster.id, cause: redactError(err as Error, secrets) },
      );
    }
    let report: CutoverReport | undefined;
    const reasons: string[] = [];
    for (let attempt = 1; attempt <= o.cutoverAttempts && !report; attempt++) {
      const r = await cutover(ctx, (rec, to, extra) => step(journal, rec, to, extra), ctx.record, {
        holdTimeoutMs: o.holdTimeoutMs,
        maxQueued: o.maxQueuedWrites,
        attempt,
      });
      ctx = { ...ctx, record: r.record };
      if (r.report) report = r.report;
      else {
        reasons.push(r.abortReason ?? 'aborted');
        emit('cutoverAborted', {
          moveId: ctx.record.id,
          cluster: cluster.id,
          attempt,
          reason: r.abortReason ?? 'aborted',
          holdMs: r.holdMs,
        });
      }
    }
    if (!report) {
      await rollback(ctx, journal, `cutover aborted ${o.cutoverAttempts} times`).catch((undo) => {
        throw new PgmError(
          'MOVE_NEEDS_RECOVERY',
          `Every cutover of move ${ctx.record.id} ("${cluster.id}") was aborted and the rollback failed (${redacted(undo, secrets)}); run recoverMoves({ cluster: '${cluster.id}' })`,
          { clusterId: cluster.id },
        );
      });
      throw new PgmError(
        'MOVE_CUTOVER_TIMEOUT',
        `Moving partitions ${rec0.partitions.join(',')} of "${cluster.id}" to ${rec0.target}: the cutover was aborted ${o.cutoverAttempts} times (${reasons.join('; ')}); the move was rolled back and every held write went to the source. Retry when the load is lower, or raise holdTimeoutMs`,
        { clusterId: cluster.id, details: { reasons } },
      );
    }
    const [done, deleted] = await finish(ctx, journal, o.deleteBatchSize, o.cleanupDelayMs);
    emit('moveCompleted', { ...done, cutover: report, deletedFromSource: deleted });
    return {
      ...done,
      rowsCopied,
      durationMs: performance.now() - t0,
      cutover: report,
      deletedFromSource: deleted,
    };
  }

  function checkPartitions(cluster: ClusterAccess, partitions: unknown): number[] {
    if (!Array.isArray(partitions) || partitions.length === 0) {
      throw new PgmError('INVALID_ARGUMENT', `movePartitions: pass { partitions: [...] }, a non-empty list`, {
        clusterId: cluster.id,
      });
    }
    for (const p of partitions) {
      if (!Number.isInteger(p) || p < 0 || p >= cluster.partitions) {
        throw new PgmError(
          'INVALID_ARGUMENT',
          `movePartitions: partition ${String(p)} is not an integer in [0, ${cluster.partitions}) (cluster "${cluster.id}" has ${cluster.partitions} partitions)`,
          { clusterId: cluster.id },
        );
      }
    }
    return [...new Set(partitions as number[])].sort((a, b) => a - b);
  }

  function access(clusterId: unknown): ClusterAccess {
    if (typeof clusterId !== 'string' || clusterId === '') {
      throw new PgmError('INVALID_ARGUMENT', 'pass { cluster: "<cluster id>" }: the sharded cluster to change');
    }
    const c = env.cluster(clusterId);
    if (c.customShardFunction) {
      throw new PgmError(
        'MOVE_REFUSED',
        `Cluster "${clusterId}" routes by a custom shardFunction, which PostgreSQL cannot compute for a row filter; moves need the built-in hash sharding`,
        { clusterId },
      );
    }
    return c;
  }

  async function movePartitionsLocked(
    cluster: ClusterAccess,
    journal: MoveJournal,
    partitions: number[],
    to: string,
    o: Resolved,
  ): Promise<MoveReport> {
    await recoverCluster(cluster, journal, o.cleanupDelayMs);
    const map = await cluster.map.read();
    const bySource = new Map<string, number[]>();
    const skipped: number[] = [];
    for (const p of partitions) {
      const owner = map.owners[p]!;
      if (owner === to) skipped.push(p);
      else bySource.set(owner, [...(bySource.get(owner) ?? []), p]);
    }
    const moves: MoveReport['moves'] = [];
    for (const [source, list] of bySource) {
      const planned = {
        id: randomBytes(6).toString('hex'),
        cluster: cluster.id,
        source,
        target: to,
        partitions: list,
        state: 'preparing' as const,
        keepSource: o.keepSource,
      };
      // What would refuse the move is checked before it is journaled: a refusal leaves nothing behind.
      const ctx = await moveContext(cluster, { ...planned, mapVersion: null, error: null });
      const rec = await journal.insert(planned);
      moves.push(await runMove({ ...ctx, record: rec }, journal, o));
    }
    return { cluster: cluster.id, to, moves, skipped };
  }

  const api: Reshard = {
    async movePartitions(options) {
      const cluster = access(options?.cluster);
      const partitions = checkPartitions(cluster, options.partitions);
      shardOf(cluster, options.to);
      const o = resolveOptions(options, cluster.id);
      const journal = await journalOf(cluster);
      return journal.withClusterLock(cluster.id, () =>
        movePartitionsLocked(cluster, journal, partitions, options.to, o),
      );
    },

    async planRebalance({ cluster: id, servers }) {
      const cluster = access(id);
      for (const s of servers ?? []) shardOf(cluster, s);
      const map = await cluster.map.read();
      return planRebalance({
        cluster: cluster.id,
        mapVersion: map.version,
        owners: map.owners,
        servers: servers ?? [],
      });
    },

    async rebalance(options) {
      const cluster = access(options?.cluster);
      const o = resolveOptions(options, cluster.id);
      const plan = await api.planRebalance({ cluster: cluster.id, servers: options.servers });
      const text = formatRebalancePlan(plan);
      if (options.dryRun) return { plan, text, dryRun: true, moves: [] };
      const journal = await journalOf(cluster);
      const moves = await journal.withClusterLock(cluster.id, async () => {
        const out: MoveReport[] = [];
        for (const m of plan.moves) out.push(await movePartitionsLocked(cluster, journal, m.partitions, m.to, o));
        return out;
      });
      return { plan, text, dryRun: false, moves };
    },

    async recoverMoves(options = {}) {
      const out: RecoveredMove[] = [];
      const ids = options.cluster ? [options.cluster] : undefined;
      if (!ids) {
        throw new PgmError('INVALID_ARGUMENT', 'recoverMoves: pass { cluster: "<cluster id>" }');
      }
      for (const id of ids) {
        const cluster = access(id);
        const journal = await journalOf(cluster);
        out.push(
          ...(await journal.withClusterLock(cluster.id, () =>
            recoverCluster(cluster, journal, options.cleanupDelayMs ?? DEFAULTS.cleanupDelayMs),
          )),
        );
      }
      return out;
    },

    async cleanupMovedPartitions({ cluster: id, batchSize = DEFAULTS.deleteBatchSize }) {
      const cluster = access(id);
      const journal = await journalOf(cluster);
      return journal.withClusterLock(cluster.id, async () => {
        await recoverCluster(cluster, journal);
        const map = await cluster.map.read();
        const byShard: Record<string, number> = {};
        let deleted = 0;
        for (const shard of cluster.shards) {
          const notOwned = map.owners.map((o, p) => (o === shard.id ? -1 : p)).filter((p) => p >= 0);
          const scan = await scanTables(shard.primary, cluster.schemas, cluster.key);
          if (notOwned.length === 0 || scan.tables.length === 0) {
            byShard[shard.id] = 0;
            continue;
          }
          const type = cluster.keyType ?? defaultHashType(scan.tables[0]!.keyType);
          const oid = await ensureShardControl(shard.primary, type);
          const filter = partitionPredicate({
            helperOid: oid,
            modulus: cluster.partitions,
            partitions: notOwned,
            keyExpr: quoteIdent(cluster.key),
            type,
          });
          const n = await deleteInBatches(shard.primary, scan.tables, filter, batchSize, cluster.map.guardBypass);
          const strays = (map.strays?.[shard.id] ?? []).filter((p) => map.owners[p] !== shard.id);
          if (strays.length > 0) await cluster.map.updateStrays(shard.id, { remove: [...strays] });
          byShard[shard.id] = n;
          deleted += n;
        }
        return { deleted, byShard };
      });
    },

    on(event, listener) {
      emitter.on(event, listener as (...a: unknown[]) => void);
      return api;
    },
    off(event, listener) {
      emitter.off(event, listener as (...a: unknown[]) => void);
      return api;
    },
  };
  return api;
}
