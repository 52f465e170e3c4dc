import type {
  ClusterConfiguration,
  ConnectionProvider,
  NormalizedConfiguration,
  QueryResult,
} from '@pg-multiverse/core';

/**
 * Where migration messages go. Every method is optional except `info`,
 * `warn` and `error`. Without a logger the engine is silent (the CLI prints).
 *
 * @example const logger: MigrationLogger = { info: console.log, warn: console.warn, error: console.error };
 */
export interface MigrationLogger {
  info(message: string, ...meta: unknown[]): void;
  warn(message: string, ...meta: unknown[]): void;
  error(message: string, ...meta: unknown[]): void;
  debug?(message: string, ...meta: unknown[]): void;
}

/** What `up()` / `down()` receive. One context per (migration, target) step. */
export interface MigrationContext {
  /** Target schema. Also first on the `search_path` while the migration runs (then `public`). */
  readonly schema: string;
  /** Cluster owning `schema`. */
  readonly cluster: string;
  /** Shard id when the cluster is sharded over listed servers (the step runs on that shard's primary). */
  readonly shard?: string;
  /** The migration being run. */
  readonly migration: Migration;
  /** `up` or `down`. */
  readonly direction: MigrationDirection;
  /** Logger for this step; messages are prefixed with `[version schema@cluster]` (`cluster[shard]` on a shard). */
  readonly logger: MigrationLogger;
  /**
   * Run SQL on the step's session, inside the step's transaction (unless
   * `transaction: false`). `BEGIN`/`COMMIT`/`ROLLBACK` inside a transactional
   * migration become `SAVEPOINT`/`RELEASE SAVEPOINT`/`ROLLBACK TO SAVEPOINT`.
   */
  query<R = Record<string, any>>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
}

export type MigrationDirection = 'up' | 'down';

/**
 * A migration. Files export one as default (or `module.exports`). For files
 * named `YYYYMMDDHHMMSS_name.ext`, `version` and `name` default from the file name.
 */
export interface Migration {
  /** Unique, sortable id, e.g. `20241230120000_create_users`. */
  version: string;
  /** Human name, e.g. `create_users`. Default: the part of `version` after the timestamp. */
  name?: string;
  description?: string;
  /**
   * Schemas this migration applies to. Default: every schema of every cluster
   * (narrowed by `targetClusters`). Each schema runs on the cluster owning it.
   */
  targetSchemas?: string[];
  /** Restrict to these clusters. Default: every cluster owning one of `targetSchemas`. */
  targetClusters?: string[];
  /** Versions (or their 14-digit timestamps) that must be applied first, on every target they apply to. */
  dependencies?: string[];
  tags?: string[];
  createdAt?: Date;
  /**
   * Run inside a transaction together with the history row (default true).
   * `false` runs outside one, e.g. for `CREATE INDEX CONCURRENTLY`; a failure
   * may then leave partial changes behind.
   */
  transaction?: boolean;
  up(context: MigrationContext): Promise<void> | void;
  down?(context: MigrationContext): Promise<void> | void;
  /** Checksum of the source; computed by the loader (files) or from `up`/`down` source (`addMigration`). */
  checksum?: string;
  /** File the migration was loaded from, if any. */
  file?: string;
}

/** A migration after loading and validation (what `getMigrations()` returns). */
export interface LoadedMigration extends Migration {
  readonly name: string;
  readonly checksum: string;
  readonly targetSchemas: string[];
  readonly dependencies: string[];
  readonly tags: string[];
  readonly transaction: boolean;
}

/** Options of `MigrationManager`. */
export interface MigrationManagerOptions {
  /**
   * The clusters. The manager opens one `pg.Pool` per cluster primary unless
   * `primary` is given. Also maps schemas to clusters.
   */
  clusters: ClusterConfiguration | NormalizedConfiguration;
  /**
   * Connections of a cluster's current primary, or of one shard's primary for
   * clusters sharded over listed servers (the facade passes the router's). Not
   * closed by `close()`.
   */
  primary?: (clusterId: string, shardId?: string) => ConnectionProvider;
  /** Current schema -> cluster map (schemas registered at runtime). Default: from `clusters`. */
  schemas?: () => Record<string, string>;
  /** Folder of migration files. Default `./migrations`. Missing folder = no file migrations. */
  migrationsPath?: string;
  /** History table name (in `controlSchema`). Default `pg_multiverse_migrations`. */
  migrationsTable?: string;
  /** Lock table name (in `controlSchema`). Default `pg_multiverse_migration_locks`. */
  lockTable?: string;
  /** Schema holding the control tables on every cluster. Default `pgm_migrations`. */
  controlSchema?: string;
  /** Create the control schema and tables when missing. Default true. */
  autoCreateMigrationsTable?: boolean;
  /** Refuse to run when an applied migration's source changed. Default true. */
  validateChecksums?: boolean;
  /** Apply pending migrations older than the newest applied one. Default false. */
  allowOutOfOrder?: boolean;
  /** Max ms to wait for a target's lock. Default 60000. */
  lockTimeout?: number;
  /**
   * Targets locked and migrated together per wave. Targets are migrated in
   * waves of at most `batchSize` (fewer locks and sessions with thousands of
   * tenant schemas); within a wave `parallel` runs up to `maxParallel` targets
   * at once. Default 100.
   */
  batchSize?: number;
  logger?: MigrationLogger;
  /** Recorded as `applied_by` and in the lock table. Default `<user>@<host>:<pid>`. */
  holder?: string;
}

/** Filters shared by migrate/rollback/status. */
export interface TargetFilter {
  /** Only these schemas. */
  targetSchemas?: string[];
  /** Only schemas of these clusters. */
  targetClusters?: string[];
}

export interface MigrationExecutionOptions extends TargetFilter {
  /** Apply up to and including this version (full version or its 14-digit timestamp). */
  targetVersion?: string;
  /** Plan only: report (and log) migration x target in order, change nothing. */
  dryRun?: boolean;
  /** Run different targets concurrently; each target stays strictly ordered. Default false. */
  parallel?: boolean;
  /** Concurrent steps when `parallel`. Default 4. */
  maxParallel?: number;
  /** After a failure, keep going with steps that do not depend on the failed target. Default false. */
  continueOnError?: boolean;
}

export interface MigrationRollbackOptions extends TargetFilter {
  /** Undo the last `steps` applied migrations per target. Default 1 (when `targetVersion` is not given). */
  steps?: number;
  /** Undo every migration applied after this version (which stays applied). */
  targetVersion?: string;
  dryRun?: boolean;
  /** Migrations without `down` (or unknown ones) lose their history row instead of stopping the rollback. */
  force?: boolean;
}

export interface MigrationCreateOptions {
  targetSchemas?: string[];
  targetClusters?: string[];
  description?: string;
  tags?: string[];
  dependencies?: string[];
  /** File type. Default: what the folder already uses, else `ts`. */
  ext?: 'ts' | 'js' | 'mjs' | 'cjs' | 'sql';
}

export type StepStatus = 'applied' | 'skipped' | 'failed' | 'planned' | 'rolledBack';

/** The outcome of one (migration, target) step. */
export interface MigrationStepResult {
  version: string;
  name: string;
  cluster: string;
  /** Shard id on a cluster sharded over listed servers. */
  shard?: string;
  schema: string;
  direction: MigrationDirection;
  status: StepStatus;
  durationMs: number;
  /** Why a step was skipped, or what `force` did. */
  reason?: string;
  error?: Error;
}

export interface MigrationRunResult {
  direction: MigrationDirection;
  dryRun: boolean;
  /** Every planned step, in plan order. */
  steps: MigrationStepResult[];
  applied: number;
  rolledBack: number;
  failed: number;
  skipped: number;
  durationMs: number;
}

/** One (cluster, schema) target's state; one per shard on a cluster sharded over listed servers. */
export interface TargetStatus {
  cluster: string;
  shard?: string;
  schema: string;
  applied: number;
  pending: number;
  lastApplied?: string;
  lastAppliedAt?: Date;
  appliedVersions: string[];
  pendingVersions: string[];
  /** In the history but not among the loaded migrations. */
  unknownVersions: string[];
  /** Applied migrations whose source changed since. */
  checksumMismatches: string[];
  /** Current lock holder, if a runner holds the target. */
  lockedBy?: { holder: string; host: string; pid: number; since: Date };
}

export interface MigrationCounts {
  applied: number;
  pending: number;
}

/**
 * `getStatus()`. Counts are (migration x target) pairs: one migration on two
 * schemas counts twice. `migrations` is the number of distinct migrations.
 */
export interface MigrationStatus {
  migrations: number;
  totalMigrations: number;
  appliedMigrations: number;
  pendingMigrations: number;
  bySchema: Record<string, MigrationCounts & { cluster: string; lastApplied?: string }>;
  byCluster: Record<string, MigrationCounts>;
  targets: TargetStatus[];
}

/** Payload of `migrationStarted` / `migrationCompleted` / `migrationFailed`. */
export interface MigrationEvent {
  version: string;
  name: string;
  schema: string;
  cluster: string;
  shard?: string;
  direction: MigrationDirection;
  /** ms (completed/failed). */
  duration?: number;
  error?: Error;
}

export interface LockEvent {
  cluster: string;
  shard?: string;
  schema: string;
  /** Who holds it (lockWaiting), from the lock table. */
  holder?: string;
  /** ms waited (lockAcquired). */
  waitedMs?: number;
}

export interface PlanEvent {
  direction: MigrationDirection;
  dryRun: boolean;
  steps: Array<{ version: string; name: string; cluster: string; shard?: string; schema: string }>;
}

/** Events of `MigrationManager`. */
export interface MigrationEvents {
  migrationStarted: [MigrationEvent];
  migrationCompleted: [MigrationEvent & { duration: number }];
  migrationFailed: [MigrationEvent & { duration: number; error: Error }];
  lockWaiting: [LockEvent];
  lockAcquired: [LockEvent];
  lockReleased: [LockEvent];
  plan: [PlanEvent];
}
