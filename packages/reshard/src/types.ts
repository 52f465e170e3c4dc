import type { ConnectionProvider, NodeConnectionConfig, ShardKeyType } from '@pg-multiverse/core';

/** One shard server of a sharded cluster, as the move engine reaches it. */
export interface ShardAccess {
  /** Shard id (`shard-0`, or the configured id). */
  id: string;
  /** Connections to the shard's primary (writes, DDL, publications, subscriptions). */
  primary: ConnectionProvider;
  /**
   * How another shard's server reaches this one for a subscription (libpq): host, port, database,
   * user, password, ssl. The password goes into the subscription's connection string on the target
   * (readable by superusers only) and never into an error, event or log line of this package.
   */
  connection: NodeConnectionConfig;
}

/** The partition map in force: its version and the owner shard of each partition. */
export interface PartitionMapView {
  version: number;
  /** `owners[p]` is the id of the shard holding partition `p`. */
  owners: readonly string[];
  /** Partitions whose rows a shard holds without owning them (copies before a cutover, rows kept after). */
  strays?: Readonly<Record<string, readonly number[]>>;
}

/**
 * The routing side of one cutover in this process (the router's `PartitionHold`): writes and
 * `session` reads of the held partitions wait until it ends.
 */
export interface CutoverHold {
  /** Aborted when the hold gives up on its own (its timeout, or too many statements queued). */
  readonly signal: AbortSignal;
  /** Statements waiting now. */
  readonly queued: number;
  /** The most statements that waited at once. */
  readonly maxQueuedSeen: number;
  /**
   * Fence: every shard stops taking writes for the held partitions (its ownership guard refuses
   * them, whatever map the writing instance has), after the writes in flight there committed.
   * Resolves to each fenced shard's WAL position afterwards: what the copy must reach.
   */
  fence(): Promise<Record<string, string>>;
  /**
   * Commit the new owners (`{ [partition]: shardId }`): compare-and-set of the map version, announced;
   * the new owners take writes, the held statements are released to them. Session reads routed to a
   * new owner see at least its WAL position at the commit.
   */
  commit(owners: Readonly<Record<number, string>>): Promise<{ version: number }>;
  /** Give up without a change: lift the fence, release the held statements to the owners in force. */
  release(): Promise<void>;
}

/**
 * What the move engine needs from the router's durable partition map and the shards' ownership
 * guard. The facade implements it over the router; the engine keeps no map and no fence of its own.
 */
export interface PartitionMapControl {
  /** The map in force, read from its durable home (not a cached copy). */
  read(): Promise<PartitionMapView>;
  /** Hold this process's writes of `partitions` (bounded by `timeoutMs` and `maxQueued`); resolves once those running finished. */
  hold(partitions: readonly number[], options: { timeoutMs: number; maxQueued: number }): Promise<CutoverHold>;
  /** Record that `shard` holds (`add`) or no longer holds (`remove`) rows of partitions it does not own. */
  updateStrays(shard: string, change: { add?: number[]; remove?: number[] }): Promise<void>;
  /** Make every shard's ownership agree with the stored map (recovery). */
  syncOwnership(): Promise<void>;
  /** Transaction setting that lets the engine delete rows of partitions a shard does not own (cleanup). */
  readonly guardBypass: { name: string; value: string };
}

/** Everything the engine needs about one sharded cluster. */
export interface ClusterAccess {
  id: string;
  /** The cluster's schemas: tables with the shard key column in them move with their partitions. */
  schemas: readonly string[];
  /** Shard key column. */
  key: string;
  /** Number of hash partitions (modulus). */
  partitions: number;
  /** Hash type of the key (as the router hashes it); default from the column type. */
  keyType?: ShardKeyType;
  /** True when the cluster routes by a custom `shardFunction`: moves are refused (PostgreSQL cannot compute it). */
  customShardFunction?: boolean;
  /** Every listed shard of the cluster. */
  shards: readonly ShardAccess[];
  /** Where the durable move journal lives (the facade: the cluster's first listed shard). */
  journal: ConnectionProvider;
  /** The router's partition map. */
  map: PartitionMapControl;
  /**
   * Give `target` the schema of `source`: run the cluster's migrations on it, exactly those the
   * source's history lists. The engine checks afterwards that every moving table exists there with
   * the same columns.
   */
  prepareTarget(target: string, source: string): Promise<void>;
}

/** What `createReshard` needs: access to the sharded clusters, and secrets to keep out of errors. */
export interface ReshardEnvironment {
  cluster(clusterId: string): ClusterAccess;
  /** Passwords to redact from every error and event. */
  secrets?: readonly string[];
}

/** Options of `movePartitions`. */
export interface MovePartitionsOptions {
  cluster: string;
  /** Partitions to move (integers in `[0, partitions)`); any partition already on `to` is skipped. */
  partitions: readonly number[];
  /** Shard id of the new owner. */
  to: string;
  /** Keep the moved rows on the source until `cleanupMovedPartitions()`. Default false: deleted in batches. */
  keepSource?: boolean;
  /** Longest time writes of the moving partitions are held at cutover, ms. Default 5000. */
  holdTimeoutMs?: number;
  /** Most writes queued during the hold; one more aborts that cutover attempt. Default 10000. */
  maxQueuedWrites?: number;
  /** Cutover attempts (each bounded by `holdTimeoutMs`) before the move is rolled back. Default 3. */
  cutoverAttempts?: number;
  /** Start the cutover once the subscription is this close to the source, bytes. Default 1 MiB. */
  cutoverLagBytes?: number;
  /** Longest time for the initial copy and catch-up before the move is rolled back, ms. Default 1 h. */
  copyTimeoutMs?: number;
  /**
   * Wait this long after the commit before deleting the moved rows from the source: instances that
   * have not heard of the new map yet still read there (the router README: normally milliseconds,
   * at worst a LISTEN ping interval plus a reconnection). Default 15000.
   */
  cleanupDelayMs?: number;
  /** Rows deleted per batch from the source after the move. Default 5000. */
  deleteBatchSize?: number;
  /** How often progress is read and `moveProgress` emitted, ms. Default 500. */
  progressIntervalMs?: number;
}

/** The phases a move goes through (also the journal's states). */
export type MoveState =
  | 'preparing'
  | 'copying'
  | 'fencing'
  | 'committing'
  | 'committed'
  | 'cleaning'
  | 'done'
  | 'rolling_back'
  | 'rolled_back';

/** One move of partitions from one source shard to one target (a journal row). */
export interface MoveRecord {
  id: string;
  cluster: string;
  source: string;
  target: string;
  partitions: number[];
  state: MoveState;
  keepSource: boolean;
  mapVersion: number | null;
  error: string | null;
}

/** Payload of `moveProgress`. */
export interface MoveProgress {
  moveId: string;
  cluster: string;
  source: string;
  target: string;
  partitions: readonly number[];
  phase: 'copy' | 'catch-up';
  /** Rows of the moving partitions on the source when the copy started. */
  rowsTotal: number;
  /** Rows copied so far (finished tables, plus the running table copies). */
  rowsCopied: number;
  /** Size of the moving tables on the target, bytes. */
  bytesCopied: number;
  /** WAL bytes the subscription still has to confirm (source's current position minus the slot's). */
  lagBytes: number;
  /** Tables whose initial copy is done. */
  tablesReady: number;
  tablesTotal: number;
}

/** Result of one cutover: how long writes were held. */
export interface CutoverReport {
  /** From asking for the hold to the map commit: how long writes of the partitions waited at most. */
  holdMs: number;
  /**
   * Where the hold went, ms: taking it (writes already running finish), the fence (writes in flight on
   * the source commit), the target catching up to the fence's WAL position (and sequences), the map commit.
   */
  steps: { acquireMs: number; fenceMs: number; catchUpMs: number; commitMs: number };
  /** When the hold began and ended (the commit released it), epoch ms with fractions (`performance.timeOrigin + performance.now()`). */
  window: { from: number; to: number };
  attempts: number;
  targetPosition: string;
  mapVersion: number;
  /** Writes queued while held. */
  heldWrites: number;
}

/** What `movePartitions` returns (one entry per source shard moved from). */
export interface MoveReport {
  cluster: string;
  to: string;
  moves: Array<
    MoveRecord & { rowsCopied: number; durationMs: number; cutover: CutoverReport; deletedFromSource: number }
  >;
  /** Partitions that were already on `to`. */
  skipped: number[];
}

/** Events of the engine (`reshard.on(name, listener)`). Payloads never hold passwords. */
export interface ReshardEvents {
  moveStarted: [MoveRecord];
  moveStateChanged: [MoveRecord & { from: MoveState }];
  moveProgress: [MoveProgress];
  moveCompleted: [MoveRecord & { cutover: CutoverReport; deletedFromSource: number }];
  moveRolledBack: [MoveRecord & { reason: string }];
  cutoverAborted: [{ moveId: string; cluster: string; attempt: number; reason: string; holdMs: number }];
}
