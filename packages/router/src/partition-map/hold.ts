import { PgmError } from '@pg-multiverse/core';
import type { PartitionMap } from './map.js';

export type PartitionHoldState = 'holding' | 'fenced' | 'committing' | 'committed' | 'aborted' | 'released';

/**
 * Writes (and `session` reads) for some partitions of a cluster, held in this
 * process while a move cuts over. See `Router.holdPartitions`.
 */
export interface PartitionHold {
  readonly clusterId: string;
  /** The held partitions, ascending. */
  readonly partitions: readonly number[];
  /** The map version in force when the hold was taken (what `commit` compares and sets). */
  readonly version: number;
  /** Statements waiting now. */
  readonly queued: number;
  /** The most statements that waited at once. */
  readonly maxQueuedSeen: number;
  readonly state: PartitionHoldState;
  /**
   * Aborted when the hold gives up on its own: `timeoutMs` passed before `commit()` started, or more than
   * `maxQueued` statements waited. Its `reason` is a `PgmError` with code `MOVE_ABORTED`. The held
   * statements are not failed: they run on the owner the map names (the old one; a fence is lifted first).
   */
  readonly signal: AbortSignal;
  /**
   * Stop every server from taking writes for these partitions: installs the ownership guard on every
   * shard's tables that carry the shard key (idempotent), then revokes the partitions on their current
   * owners, waiting for writes in flight there (from any instance) to commit. Other instances' writes
   * to these partitions are refused from now on (`PGM01`) and wait for the new map. Resolves to each
   * fenced shard's WAL position afterwards (`{ [shardId]: 'X/Y' }`): the position a copy must reach.
   */
  fence(): Promise<Record<string, string>>;
  /**
   * Commit the new owners of (some of) the held partitions (`{ [partition]: shardId }`): compare-and-set
   * of map version `version` -> `version + 1` on the coordinator with NOTIFY, in one transaction; then the
   * new owners are granted the partitions, this router switches, and the held statements are released
   * to the new owners. Needs `fence()` first. Rejects with `MOVE_ABORTED` after the hold gave up, and with
   * `PARTITION_MAP_CONFLICT` when another change was committed first (the fence is lifted then and the
   * statements released to the owners that map names).
   */
  commit(owners: Readonly<Record<number, string>>): Promise<PartitionMap>;
  /** Give up without a change: lift the fence (if any) and release the held statements to the current owners. */
  release(): Promise<void>;
}

export interface HoldEngine {
  /** Fence the partitions on their current owners; returns WAL positions by shard id. */
  fence(partitions: readonly number[]): Promise<Record<string, string>>;
  /** Give the partitions back to the owners the map in force names (after a fence). */
  unfence(partitions: readonly number[]): Promise<void>;
  commit(expectedVersion: number, owners: Readonly<Record<number, string>>): Promise<PartitionMap>;
  /** The hold ended: forget it and run the queued statements (in order). */
  finish(hold: Hold, outcome: 'committed' | 'aborted' | 'released'): void;
}

export class Hold implements PartitionHold {
  readonly clusterId: string;
  readonly partitions: readonly number[];
  readonly version: number;
  readonly startedAt = performance.now();
  maxQueuedSeen = 0;
  private queue: Array<() => void> = [];
  private current: PartitionHoldState = 'holding';
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  /** Operations run one at a time, in the order asked. */
  private op: Promise<unknown> = Promise.resolve();

  constructor(
    clusterId: string,
    partitions: readonly number[],
    version: number,
    private readonly engine: HoldEngine,
    private readonly limits: { timeoutMs: number; maxQueued: number },
  ) {
    this.clusterId = clusterId;
    this.partitions = Object.freeze([...partitions]);
    this.version = version;
    this.timer = setTimeout(
      () =>
        this.giveUp(
          `the hold on partitions ${this.partitions.join(', ')} of cluster "${clusterId}" lasted longer than timeoutMs (${limits.timeoutMs} ms) before commit()`,
          'timeout',
        ),
      limits.timeoutMs,
    );
    this.timer.unref?.();
  }

  get queued(): number {
    return this.queue.length;
  }

  get state(): PartitionHoldState {
    return this.current;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Queue one statement until the hold ends. */
  enqueue<T>(run: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push(() => {
        run().then(resolve, reject);
      });
      if (this.queue.length > this.maxQueuedSeen) this.maxQueuedSeen = this.queue.length;
      if (this.queue.length > this.limits.maxQueued) {
        this.giveUp(
          `more than maxQueued (${this.limits.maxQueued}) statements waited for partitions ${this.partitions.join(', ')} of cluster "${this.clusterId}"`,
          'queue-full',
        );
      }
    });
  }

  /** The held statements, for the engine to run when the hold ends. */
  drainQueue(): Array<() => void> {
    const q = this.queue;
    this.queue = [];
    return q;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.op.then(fn, fn);
    this.op = next.catch(() => undefined);
    return next;
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The hold gives up on its own (timeout, queue bound): the move is aborted, never the statements. */
  private giveUp(why: string, reason: 'timeout' | 'queue-full'): void {
    if (this.current !== 'holding' && this.current !== 'fenced') return;
    if (this.controller.signal.aborted) return;
    this.stopTimer();
    this.controller.abort(
      new PgmError('MOVE_ABORTED', `Move aborted: ${why}. The held statements run on the current owners.`, {
        clusterId: this.clusterId,
        details: { partitions: [...this.partitions], reason, queued: this.queue.length },
      }),
    );
    void this.serial(() => this.end('aborted'));
  }

  /** Lift the fence if there is one, then release the statements. */
  private async end(outcome: 'aborted' | 'released'): Promise<void> {
    if (this.current !== 'holding' && this.current !== 'fenced') return;
    const fenced = this.current === 'fenced';
    this.current = outcome;
    this.stopTimer();
    try {
      if (fenced) await this.engine.unfence(this.partitions);
    } finally {
      this.engine.finish(this, outcome);
    }
  }

  private refuseIfOver(): void {
    if (this.controller.signal.aborted) throw this.controller.signal.reason;
    if (this.current !== 'holding' && this.current !== 'fenced') {
      throw new PgmError('INVALID_ARGUMENT', `This partition hold is ${this.current}`, { clusterId: this.clusterId });
    }
  }

  fence(): Promise<Record<string, string>> {
    return this.serial(async () => {
      this.refuseIfOver();
      if (this.current === 'fenced') {
        throw new PgmError('INVALID_ARGUMENT', 'fence() was called already on this hold', {
          clusterId: this.clusterId,
        });
      }
      try {
        const positions = await this.engine.fence(this.partitions);
        this.current = 'fenced';
        return positions;
      } catch (err) {
        // Part of the fence may be in place: give every partition back to the owner the map names.
        this.current = 'fenced';
        throw err;
      }
    });
  }

  commit(owners: Readonly<Record<number, string>>): Promise<PartitionMap> {
    return this.serial(async () => {
      this.refuseIfOver();
      const keys = Object.keys(owners).map(Number);
      const stray = keys.filter((p) => !this.partitions.includes(p));
      if (keys.length === 0 || stray.length > 0) {
        throw new PgmError(
          'INVALID_ARGUMENT',
          keys.length === 0
            ? 'commit(owners): name at least one held partition and its new shard, e.g. { 3: "shard-2" }'
            : `commit(owners): partitions ${stray.join(', ')} are not held by this hold (held: ${this.partitions.join(', ')})`,
          { clusterId: this.clusterId },
        );
      }
      if (this.current !== 'fenced') {
        throw new PgmError(
          'INVALID_ARGUMENT',
          'commit(owners): call fence() first, so that no server takes writes for these partitions while the map changes',
          { clusterId: this.clusterId },
        );
      }
      this.stopTimer();
      this.current = 'committing';
      let map: PartitionMap;
      try {
        map = await this.engine.commit(this.version, owners);
      } catch (err) {
        if ((err as PgmError).details?.uncertain === true) {
          // Unknown outcome: the fence stays (recovery decides); the statements go on and wait for the map.
          this.current = 'aborted';
          this.engine.finish(this, 'aborted');
          throw err;
        }
        // Not committed (a conflict, or a server refused): lift the fence, release to the map in force.
        this.current = 'fenced';
        await this.end('aborted').catch(() => undefined);
        throw err;
      }
      this.current = 'committed';
      this.engine.finish(this, 'committed');
      return map;
    });
  }

  release(): Promise<void> {
    return this.serial(() => this.end('released'));
  }
}
