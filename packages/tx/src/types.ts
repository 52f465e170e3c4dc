import type { Connection, ConnectionProvider, QueryResult } from '@pg-multiverse/core';

export type IsolationLevel = 'read committed' | 'repeatable read' | 'serializable' | 'read uncommitted';

/** Per-transaction options of `withTransaction`. */
export interface TransactionOptions {
  /** `BEGIN ISOLATION LEVEL ...` on every participant. Default: the server's default (read committed). */
  isolationLevel?: IsolationLevel | 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE' | 'READ UNCOMMITTED';
  /** `READ ONLY` on every participant. Default false. */
  readOnly?: boolean;
  /** `DEFERRABLE` (only meaningful with serializable + read only). Default false. */
  deferrable?: boolean;
  /**
   * Roll the transaction back when it has not reached its commit decision after
   * this many milliseconds (running statements are cancelled). Rejects with
   * `TRANSACTION_TIMEOUT`. Default: none.
   */
  timeoutMs?: number;
}

/** Options of one statement inside a transaction. */
export interface TxQueryOptions {
  /** Schema that decides the cluster and is put first on the search_path. Required when the transaction declared several schemas. */
  schema?: string;
  /**
   * Shard key, for a schema of a cluster sharded over listed servers: the shard it
   * maps to takes part (needs `participantOf`; the facade passes one).
   */
  shardKey?: unknown;
  /**
   * Id of one listed shard of the schema's cluster (`sharding.shards[i].id`, e.g. `shard-1`): that
   * shard takes part as participant `cluster[shard]` (core's `locationOf`). For statements that must
   * reach a given shard whatever their keys (a cross-shard write split per shard). Not with `shardKey`.
   */
  shard?: string;
}

/** What the callback of `withTransaction` receives. */
export interface Transaction {
  /** This transaction's id (also the middle part of its global ids). */
  readonly id: string;
  /** The schemas declared for this transaction. */
  readonly schemas: readonly string[];
  /** Run a statement on the cluster of `options.schema` (BEGIN is sent there the first time). */
  query<R = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
    options?: TxQueryOptions,
  ): Promise<QueryResult<R>>;
  /**
   * Run `fn` on the participant's own session (BEGIN already sent there, the schema's search_path in
   * force), for work `query` cannot express: e.g. `COPY ... FROM STDIN` through the connection's
   * optional `submit` (pg-copy-streams). Work on the participant waits for `fn` to settle; a rejection
   * marks the participant failed (the transaction cannot commit). Not recorded as a statement.
   */
  withConnection<T>(fn: (c: Connection) => Promise<T>, options?: TxQueryOptions): Promise<T>;
  /** Create a savepoint on every participant (and on participants that join later). Returns its name. */
  savepoint(name?: string): Promise<string>;
  /** `ROLLBACK TO SAVEPOINT` on every participant; the savepoint stays. */
  rollbackToSavepoint(name: string): Promise<void>;
  /** `RELEASE SAVEPOINT` on every participant (later savepoints are released too). */
  releaseSavepoint(name: string): Promise<void>;
  /** Clusters the transaction has touched so far. */
  clusters(): string[];
}

export type TransactionCallback<T> = (tx: Transaction) => Promise<T>;

/** Hooks to observe or interrupt the protocol. FOR TESTING (crash and fault tests); a hook that throws before the decision aborts the transaction. */
export interface TransactionHooks {
  /** After every writing participant has prepared, before the commit decision is written. */
  afterPrepare?(info: HookInfo): void | Promise<void>;
  /** After the commit decision is durable, before any `COMMIT PREPARED`. Errors are ignored. */
  afterDecision?(info: HookInfo): void | Promise<void>;
}

export interface HookInfo {
  id: string;
  /** Prepared participants: cluster id -> gid. */
  gids: Record<string, string>;
}

export interface TransactionManagerOptions {
  /** Schema -> cluster id; throws (UNKNOWN_SCHEMA) for unknown schemas. */
  resolveCluster(schema: string): string;
  /** The current primary of a participant: a cluster id, or an id `participantOf` returned. */
  primary(participantId: string): ConnectionProvider;
  /** Every participant id (clusters, and the shards `participantOf` can return); recovery scans each of them. */
  clusterIds(): string[];
  /**
   * Participant id of a shard key on a cluster sharded over listed servers
   * (e.g. `orders[shard-1]`). Without it, `tx.query(..., { shardKey })` is an error.
   */
  participantOf?(clusterId: string, shardKey: unknown): string;
  /**
   * Where one `tx.query` statement runs, from the statement itself (for clusters sharded over listed
   * servers: the key found in its SQL, or its `shardKey`). Return `{ participant }` for one participant,
   * `{ run }` for a statement spread over several (`run` gets a runner that executes a statement on a
   * participant of this transaction and resolves to one result), or `undefined` to keep the default
   * (the cluster itself, or `participantOf` with `shardKey`). Not asked for `{ shard }` nor for
   * `withConnection`. May throw to refuse the statement (nothing runs). The facade answers from the
   * router's plan, as `query()` routes. Default: none.
   */
  routeStatement?(request: StatementRouteRequest): StatementRoute | undefined;
  /**
   * Refuse (`FEATURE_DISABLED`) a transaction that would open more participants
   * than this. Default: no limit. The facade passes 1 when `enableTransactions` is off.
   */
  maxParticipants?: number;
  /** Cluster whose primary stores the commit decisions. Default: the first of `clusterIds()`. */
  coordinatorClusterId?: string;
  /** Owner id written into every gid; recovery only touches gids of this owner. Default: derived from the coordinator cluster id. */
  ownerId?: string;
  /** Run `recover()` every this many ms (timer unref'd), once the manager is in use. 0 disables. Default 30000. */
  recoveryIntervalMs?: number;
  /** A prepared transaction without a decision is rolled back by recovery only when older than this. Default 60000. */
  safeAgeMs?: number;
  /** Decision rows are pruned this long after they were written (and when no prepared transaction needs them). Default max(1 h, 10 x safeAgeMs). */
  decisionRetentionMs?: number;
  /** Schema of the decision table. Default `pgm_tx`. */
  decisionSchema?: string;
  /** Name of the decision table. Default `decisions`. */
  decisionTable?: string;
  /** Attempts of `COMMIT PREPARED` per participant after the decision, before leaving it to recovery. Default 3. */
  commitRetries?: number;
  /** Points in the two-phase commit (fault injection in tests, 2PC phase spans in the facade), see `TransactionHooks`. */
  hooks?: TransactionHooks;
}

/** What `routeStatement` is asked about one `tx.query`. */
export interface StatementRouteRequest {
  clusterId: string;
  /** The schema the statement runs in (its search_path). */
  schema: string;
  sql: string;
  params: readonly unknown[] | undefined;
  /** The statement's `shardKey` option, if given. */
  shardKey: unknown;
}

/** Runs one statement on a participant of the transaction (opened, BEGIN sent, on first use). */
export type ParticipantRunner = (
  participant: string,
  sql: string,
  params: readonly unknown[] | undefined,
) => Promise<QueryResult>;

/** `routeStatement`'s answer: one participant, or a statement spread over several. */
export type StatementRoute = { participant: string } | { run(onParticipant: ParticipantRunner): Promise<QueryResult> };

export interface StatementRecord {
  clusterId: string;
  /** The participant the statement ran on, when it is a shard (`participantOf`). */
  participant?: string;
  schema: string;
  sql: string;
}

export interface TransactionStartedEvent {
  id: string;
  schemas: readonly string[];
  options: TransactionOptions;
}

export interface TransactionCommittedEvent {
  id: string;
  clusters: string[];
  durationMs: number;
  /** True when the two-phase protocol was used (more than one participant wrote). */
  twoPhase: boolean;
  statements: StatementRecord[];
  /** Clusters whose `COMMIT PREPARED` did not go through yet; recovery finishes them. */
  pendingRecovery: string[];
}

export interface TransactionRolledBackEvent {
  id: string;
  clusters: string[];
  durationMs: number;
  reason: 'error' | 'timeout' | 'prepare_failed' | 'aborted_by_recovery';
  error: unknown;
}

export interface TransactionRecoveredEvent {
  gid: string;
  txid: string;
  clusterId: string;
  action: 'commit' | 'rollback';
  ageMs: number;
}

export interface RecoveryFailedEvent {
  clusterId: string;
  error: unknown;
}

export type TransactionEvents = {
  transactionStarted: [TransactionStartedEvent];
  transactionCommitted: [TransactionCommittedEvent];
  transactionRolledBack: [TransactionRolledBackEvent];
  transactionRecovered: [TransactionRecoveredEvent];
  recoveryFailed: [RecoveryFailedEvent];
};

/** One of our prepared transactions as recovery saw it. */
export interface InDoubtTransaction {
  gid: string;
  txid: string;
  clusterId: string;
  ageMs: number;
  decision: 'commit' | 'abort' | 'none';
  action: 'commit' | 'rollback' | 'wait' | 'failed';
}

export interface RecoveryReport {
  /** False when the coordinator cluster could not be reached: nothing was decided. */
  ran: boolean;
  reason?: string;
  committed: number;
  rolledBack: number;
  /** Prepared transactions left alone (younger than safeAgeMs without decision, or busy). */
  waiting: number;
  pruned: number;
  transactions: InDoubtTransaction[];
  failedClusters: string[];
}

export interface TransactionMetrics {
  active: number;
  started: number;
  committed: number;
  twoPhaseCommitted: number;
  rolledBack: number;
  timedOut: number;
  recoveredCommitted: number;
  recoveredRolledBack: number;
  recoveryRuns: number;
  /** From the last recovery scan: our prepared transactions per cluster and the oldest one's age. */
  prepared: Record<string, { count: number; oldestAgeMs: number }>;
  /** Oldest age over all clusters at the last scan (0 when none). */
  oldestPreparedAgeMs: number;
  lastRecoveryAt: number | undefined;
}
