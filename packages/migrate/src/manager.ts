import { EventEmitter } from 'node:events';
import { hostname, userInfo } from 'node:os';
import {
  type Connection,
  type ConnectionProvider,
  connectionFailureCode,
  describeNode,
  listedShards,
  locationOf,
  type NormalizedConfiguration,
  PgmError,
  poolProvider,
  redactError,
  redactSecrets,
  toPgPoolConfig,
  validateConfiguration,
  validateMigrationOptions,
} from '@pg-multiverse/core';
import pg from 'pg';
import {
  type ControlTables,
  ensureControlTables,
  type HistorySql,
  historySql,
  LOCK_NAMESPACE,
  lockSql,
  readHistory,
} from './control-tables.js';
import { createMigrationFile } from './create-migration.js';
import { MigrationError } from './errors.js';
import { formatPlan } from './format-plan.js';
import { loadMigrationFile, loadMigrations } from './load-migrations.js';
import { normalizeMigration } from './normalize-migration.js';
import { orderMigrations } from './order.js';
import { type Histories, type PlannedStep, planDown, planUp } from './plan.js';
import { runStep, SessionLostError } from './run-step.js';
import { runScheduled } from './scheduler.js';
import { createStepSessions, type KeptSession, type StepSessions } from './step-sessions.js';
import { lockTargets } from './target-lock.js';
import {
  allTargets,
  byLocation,
  checkFilter,
  type ShardMap,
  type Target,
  targetKey,
  targetOf,
  targetsOf,
} from './targets.js';
import type {
  LoadedMigration,
  Migration,
  MigrationCreateOptions,
  MigrationEvent,
  MigrationEvents,
  MigrationExecutionOptions,
  MigrationLogger,
  MigrationManagerOptions,
  MigrationRollbackOptions,
  MigrationRunResult,
  MigrationStatus,
  MigrationStepResult,
  TargetFilter,
  TargetStatus,
} from './types.js';
import { makeWaves } from './waves.js';

const SILENT: MigrationLogger = { info() {}, warn() {}, error() {}, debug() {} };

function defaultHolder(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers)
  }
  return `${user}@${hostname()}:${process.pid}`;
}

/**
 * Runs migrations on every (cluster, schema) target: per-target history,
 * advisory locks, one transaction per step, checksums, dependencies.
 *
 * @example
 * const mm = new MigrationManager({ clusters, migrationsPath: './migrations' });
 * await mm.initialize();
 * await mm.migrate();
 * await mm.close();
 */
export class MigrationManager extends EventEmitter<MigrationEvents> {
  private readonly options: MigrationManagerOptions;
  private readonly config: NormalizedConfiguration;
  private readonly tables: ControlTables;
  private readonly history: HistorySql;
  private readonly logger: MigrationLogger;
  private readonly holder: string;
  private readonly secrets: string[];
  /** Shard ids of the clusters sharded over listed servers: one target per shard. */
  private readonly shards: ShardMap;
  private readonly owned = new Map<string, ConnectionProvider>();
  private fileMigrations: LoadedMigration[] = [];
  private readonly added: LoadedMigration[] = [];
  private initialized = false;
  private closed = false;

  constructor(options: MigrationManagerOptions) {
    super();
    if (!options || typeof options !== 'object' || !options.clusters) {
      throw new PgmError('INVALID_ARGUMENT', 'MigrationManager: `clusters` (a ClusterConfiguration) is required');
    }
    validateMigrationOptions(options);
    this.options = options;
    this.config = validateConfiguration(options.clusters);
    this.tables = {
      schema: options.controlSchema ?? 'pgm_migrations',
      migrations: options.migrationsTable ?? 'pg_multiverse_migrations',
      locks: options.lockTable ?? 'pg_multiverse_migration_locks',
    };
    this.history = historySql(this.tables);
    for (const [k, v] of Object.entries({ lockTimeout: options.lockTimeout, batchSize: options.batchSize })) {
      if (v !== undefined && !(typeof v === 'number' && v >= (k === 'batchSize' ? 1 : 0))) {
        throw new PgmError(
          'INVALID_ARGUMENT',
          `MigrationManager: \`${k}\` must be a ${k === 'batchSize' ? 'positive' : 'non-negative'} number`,
        );
      }
    }
    this.logger = options.logger ?? SILENT;
    this.holder = options.holder ?? defaultHolder();
    this.secrets = [...this.config.secrets];
    this.shards = listedShards(this.config);
  }

  /** Load the files of `migrationsPath` (again). Migrations added with `addMigration` are kept. */
  async initialize(): Promise<void> {
    this.assertOpen();
    const files = await loadMigrations(this.options.migrationsPath ?? './migrations', this.logger);
    const seen = new Map<string, LoadedMigration>();
    for (const m of [...files, ...this.added]) {
      const dup = seen.get(m.version);
      if (dup) {
        throw new PgmError(
          'MIGRATION_LOAD_FAILED',
          `Duplicate migration version ${m.version}: ${dup.file ?? 'addMigration()'} and ${m.file ?? 'addMigration()'}`,
        );
      }
      seen.set(m.version, m);
    }
    this.fileMigrations = files;
    this.initialized = true;
  }

  /** Every known migration, sorted by version. */
  getMigrations(): LoadedMigration[] {
    return [...this.fileMigrations, ...this.added].sort((a, b) =>
      a.version < b.version ? -1 : a.version > b.version ? 1 : 0,
    );
  }

  /** Register a migration object (in addition to the files). Throws on a duplicate version. */
  addMigration(migration: Migration): void {
    this.assertOpen();
    const m = normalizeMigration(migration);
    if (this.added.some((x) => x.version === m.version) || this.fileMigrations.some((x) => x.version === m.version)) {
      throw new PgmError('MIGRATION_LOAD_FAILED', `Duplicate migration version ${m.version}`);
    }
    this.added.push(m);
  }

  /** Apply pending migrations. Throws `MIGRATION_FAILED` (with `result`) when a step failed. */
  async migrate(options: MigrationExecutionOptions = {}): Promise<MigrationRunResult> {
    await this.ready();
    const started = performance.now();
    const schemaMap = this.schemaMap();
    checkFilter(options, schemaMap);
    const ordered = orderMigrations(this.getMigrations());
    const concurrency = options.parallel ? Math.max(1, options.maxParallel ?? 4) : 1;
    const plan = (h: Histories) =>
      planUp({
        ordered,
        histories: h,
        schemaMap,
        shards: this.shards,
        filter: options,
        allowOutOfOrder: this.options.allowOutOfOrder ?? false,
        validateChecksums: this.options.validateChecksums ?? true,
        ...(options.targetVersion !== undefined ? { targetVersion: options.targetVersion } : {}),
      });
    // Locations whose control tables exist: asked once per run, not again after the lock.
    const present = new Set<string>();
    const histories = await this.readHistories(schemaMap, undefined, present);
    const first = plan(histories);
    this.announce('up', first, !!options.dryRun);
    const results = new Map<string, MigrationStepResult>(first.map((s) => [stepKey(s), planned(s)]));
    if (options.dryRun || first.length === 0) return summarize('up', !!options.dryRun, [...results.values()], started);

    // Every location missing its control tables gets them at once (not one location after the other).
    await Promise.all(
      byLocation(first)
        .filter(([s]) => !present.has(locationOf(s!)))
        .map(async ([s]) => {
          await ensureControlTables(
            this.provider(s!),
            this.tables,
            this.options.autoCreateMigrationsTable ?? true,
            true,
          );
          present.add(locationOf(s!));
        }),
    );
    let stopped = false;
    const waves = makeWaves(first, this.options.batchSize ?? 100);
    for (const [w, wave] of waves.entries()) {
      const inWave = new Set(wave.map(targetKey));
      if (stopped) {
        for (const r of results.values()) {
          if (r.status === 'planned' && inWave.has(targetKey(r))) {
            Object.assign(r, { status: 'skipped', reason: 'the run stopped after a failure' });
          }
        }
        continue;
      }
      const locks = await this.lock(wave, () => summarize('up', false, [...results.values()], started));
      try {
        // Under the lock, the wave's own targets are read again (another runner may have been first);
        // the other targets keep what this run read or did.
        for (const [k, rows] of await this.readHistories(schemaMap, wave, present)) histories.set(k, rows);
        const current = plan(histories);
        const steps = current.filter((s) => inWave.has(targetKey(s)));
        // Planned before the lock but applied meanwhile by another runner.
        const pendingKeys = new Set(steps.map(stepKey));
        for (const r of results.values()) {
          if (r.status === 'planned' && inWave.has(targetKey(r)) && !pendingKeys.has(stepKey(r))) {
            Object.assign(r, { status: 'skipped', reason: 'already applied (by another runner)' });
          }
        }
        const outcome = await this.execute(steps, current, results, {
          concurrency,
          continueOnError: !!options.continueOnError,
        });
        if (outcome.failed && !options.continueOnError) stopped = true;
        // Only a later wave's plan reads what this one applied.
        if (w < waves.length - 1) this.noteApplied(histories, steps, results);
      } finally {
        await locks.release();
      }
    }
    return this.finish('up', [...results.values()], started);
  }

  /** Undo applied migrations, newest first per target. Throws `MIGRATION_FAILED` (with `result`) when a step failed. */
  async rollback(options: MigrationRollbackOptions = {}): Promise<MigrationRunResult> {
    await this.ready();
    const started = performance.now();
    const schemaMap = this.schemaMap();
    checkFilter(options, schemaMap);
    if (options.steps !== undefined && !(Number.isInteger(options.steps) && options.steps >= 0)) {
      throw new PgmError('INVALID_ARGUMENT', 'rollback: `steps` must be a non-negative integer');
    }
    const ordered = orderMigrations(this.getMigrations());
    const targets = allTargets(schemaMap, options, this.shards);
    const plan = (h: Histories) =>
      planDown({
        ordered,
        histories: h,
        schemaMap,
        shards: this.shards,
        filter: options,
        targets,
        force: !!options.force,
        ...(options.steps !== undefined ? { steps: options.steps } : {}),
        ...(options.targetVersion !== undefined ? { targetVersion: options.targetVersion } : {}),
      });
    const histories = await this.readHistories(schemaMap);
    const first = plan(histories);
    this.announce('down', first, !!options.dryRun);
    const results = new Map<string, MigrationStepResult>(first.map((s) => [stepKey(s), planned(s)]));
    if (options.dryRun || first.length === 0)
      return summarize('down', !!options.dryRun, [...results.values()], started);

    const lockSet = uniqueTargets(first);
    const locks = await this.lock(lockSet, () => summarize('down', false, [...results.values()], started));
    try {
      const lockedKeys = new Set(lockSet.map(targetKey));
      for (const [k, rows] of await this.readHistories(schemaMap, lockSet)) histories.set(k, rows);
      const current = plan(histories).filter((s) => lockedKeys.has(targetKey(s)));
      const currentKeys = new Set(current.map(stepKey));
      for (const r of results.values()) {
        if (!currentKeys.has(stepKey(r))) Object.assign(r, { status: 'skipped', reason: 'no longer applied' });
      }
      await this.execute(current, current, results, { concurrency: 1, continueOnError: false });
    } finally {
      await locks.release();
    }
    return this.finish('down', [...results.values()], started);
  }

  /** Applied/pending counts per target, schema and cluster (no changes made). */
  async getStatus(filter: TargetFilter = {}): Promise<MigrationStatus> {
    await this.ready();
    const schemaMap = this.schemaMap();
    checkFilter(filter, schemaMap);
    const migrations = this.getMigrations();
    const known = new Map(migrations.map((m) => [m.version, m]));
    const perSchema = new Map<string, LoadedMigration[]>();
    for (const m of migrations) {
      for (const t of targetsOf(m, schemaMap, filter)) perSchema.set(t.schema, [...(perSchema.get(t.schema) ?? []), m]);
    }
    const targets = allTargets(schemaMap, filter, this.shards);
    const histories = await this.readHistories(schemaMap);
    const locks = await this.readLocks(targets);
    const status: MigrationStatus = {
      migrations: migrations.length,
      totalMigrations: 0,
      appliedMigrations: 0,
      pendingMigrations: 0,
      bySchema: {},
      byCluster: {},
      targets: [],
    };
    const shardApplied = new Map<string, number>();
    for (const t of targets) {
      const rows = histories.get(targetKey(t)) ?? [];
      const appliedSet = new Set(rows.map((r) => r.version));
      const mine = perSchema.get(t.schema) ?? [];
      const pending = mine.filter((m) => !appliedSet.has(m.version)).map((m) => m.version);
      const last = rows[rows.length - 1];
      const ts: TargetStatus = {
        ...t,
        applied: rows.length,
        pending: pending.length,
        appliedVersions: rows.map((r) => r.version),
        pendingVersions: pending,
        unknownVersions: rows.filter((r) => !known.has(r.version)).map((r) => r.version),
        checksumMismatches: rows
          .filter((r) => known.has(r.version) && known.get(r.version)!.checksum !== r.checksum)
          .map((r) => r.version),
        ...(last ? { lastApplied: last.version, lastAppliedAt: last.appliedAt } : {}),
      };
      const lock = locks.get(targetKey(t));
      if (lock) ts.lockedBy = lock;
      status.targets.push(ts);
      status.appliedMigrations += ts.applied;
      status.pendingMigrations += ts.pending;
      // A schema on a cluster sharded over listed servers has one target per shard:
      // counts add up, lastApplied is that of the shard furthest behind.
      const prev = status.bySchema[t.schema];
      const behind = prev === undefined || ts.applied < (shardApplied.get(t.schema) ?? 0);
      if (behind) shardApplied.set(t.schema, ts.applied);
      const lastApplied = behind ? ts.lastApplied : prev.lastApplied;
      status.bySchema[t.schema] = {
        cluster: t.cluster,
        applied: (prev?.applied ?? 0) + ts.applied,
        pending: (prev?.pending ?? 0) + ts.pending,
        ...(lastApplied ? { lastApplied } : {}),
      };
      const c = (status.byCluster[t.cluster] ??= { applied: 0, pending: 0 });
      c.applied += ts.applied;
      c.pending += ts.pending;
    }
    status.totalMigrations = status.appliedMigrations + status.pendingMigrations;
    return status;
  }

  /**
   * Accept changed migration sources: store the current checksum for applied
   * migrations whose source changed (optionally only `versions`). Returns what changed.
   */
  async repairChecksums(
    options: TargetFilter & { versions?: string[] } = {},
  ): Promise<Array<Target & { version: string }>> {
    await this.ready();
    const schemaMap = this.schemaMap();
    checkFilter(options, schemaMap);
    const known = new Map(this.getMigrations().map((m) => [m.version, m]));
    const histories = await this.readHistories(schemaMap);
    const out: Array<Target & { version: string }> = [];
    for (const t of allTargets(schemaMap, options, this.shards)) {
      for (const r of histories.get(targetKey(t)) ?? []) {
        const m = known.get(r.version);
        if (!m || m.checksum === r.checksum) continue;
        if (options.versions && !options.versions.includes(r.version)) continue;
        await this.provider(t).query(this.history.updateChecksum, [t.schema, r.version, m.checksum]);
        out.push({ ...t, version: r.version });
      }
    }
    return out;
  }

  /**
   * Write a new migration file from a template into `migrationsPath` and
   * return its path. Never connects. The new migration is loaded at once.
   */
  async createMigration(name: string, options: MigrationCreateOptions = {}): Promise<string> {
    this.assertOpen();
    const file = await createMigrationFile(this.options.migrationsPath ?? './migrations', name, options);
    if (this.initialized) this.fileMigrations.push(await loadMigrationFile(file));
    return file;
  }

  /** Close the pools this manager opened (not providers passed as `primary`). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const owned = [...this.owned.values()];
    this.owned.clear();
    await Promise.allSettled(owned.map((p) => p.end()));
  }

  // ---- internals ----

  private assertOpen(): void {
    if (this.closed) throw new PgmError('CLOSED', 'MigrationManager is closed');
  }

  private async ready(): Promise<void> {
    this.assertOpen();
    if (!this.initialized) await this.initialize();
  }

  private schemaMap(): Record<string, string> {
    return this.options.schemas?.() ?? this.config.schemaToCluster;
  }

  /** Connections of a target's primary: its cluster's, or its shard's on a cluster sharded over listed servers. */
  private provider(t: { cluster: string; shard?: string | undefined }): ConnectionProvider {
    if (this.options.primary) return this.options.primary(t.cluster, t.shard);
    const key = locationOf(t);
    let p = this.owned.get(key);
    if (!p) {
      const c = this.config.clusters[t.cluster];
      if (!c) throw new PgmError('UNKNOWN_CLUSTER', `Unknown cluster "${t.cluster}"`, { clusterId: t.cluster });
      const node = t.shard === undefined ? c.primary : c.sharding?.shards.find((sh) => sh.id === t.shard)?.primary;
      if (!node) {
        throw new PgmError('UNKNOWN_CLUSTER', `Cluster "${t.cluster}" has no shard "${t.shard}"`, {
          clusterId: t.cluster,
        });
      }
      const pool = new pg.Pool(toPgPoolConfig(node) as pg.PoolConfig);
      p = namedFailures(
        poolProvider(pool, `${key}/${node.id}`, {
          onIdleError: (err) =>
            this.logger.warn(`idle connection to ${key} failed: ${redactSecrets(err.message, this.secrets)}`),
        }),
        t.cluster,
        `${key}/${node.id} (${redactSecrets(describeNode(node.connection), this.secrets)})`,
        this.secrets,
      );
      this.owned.set(key, p);
    }
    return p;
  }

  /**
   * The history of `targets` (default: every target of the configuration), one
   * query per location. `present` holds the locations whose control tables this
   * run saw or made (their existence is not asked again) and learns new ones.
   */
  private async readHistories(
    schemaMap: Record<string, string>,
    targets: readonly Target[] = allTargets(schemaMap, {}, this.shards),
    present?: Set<string>,
  ): Promise<Histories> {
    const out: Histories = new Map();
    await Promise.all(
      byLocation(targets).map(async (ts) => {
        const location = locationOf(ts[0]!);
        const h = await readHistory(
          this.provider(ts[0]!),
          this.tables,
          ts.map((t) => t.schema),
          present?.has(location) ?? false,
        );
        if (h.exists) present?.add(location);
        for (const t of ts) out.set(targetKey(t), h.rows.get(t.schema) ?? []);
      }),
    );
    return out;
  }

  private async readLocks(targets: readonly Target[]): Promise<Map<string, NonNullable<TargetStatus['lockedBy']>>> {
    const out = new Map<string, NonNullable<TargetStatus['lockedBy']>>();
    for (const ts of byLocation(targets)) {
      const at = ts[0]!;
      const schemas = ts.map((t) => t.schema);
      const p = this.provider(at);
      const exists = await p.query<{ l: string | null }>('SELECT to_regclass($1) AS l', [
        `"${this.tables.schema.replace(/"/g, '""')}"."${this.tables.locks.replace(/"/g, '""')}"`,
      ]);
      if (exists.rows[0]!.l === null) continue;
      const r = await p.query<{ schema_name: string; holder: string; host: string; pid: number; since: Date }>(
        lockSql(this.tables).live,
        [schemas, LOCK_NAMESPACE],
      );
      for (const row of r.rows) {
        out.set(targetKey({ ...targetOf(at), schema: row.schema_name }), {
          holder: row.holder,
          host: row.host,
          pid: row.pid,
          since: row.since,
        });
      }
    }
    return out;
  }

  private async lock(targets: readonly Target[], partial: () => MigrationRunResult) {
    try {
      return await lockTargets(targets, (t) => this.provider(t), {
        tables: this.tables,
        timeoutMs: this.options.lockTimeout ?? 60_000,
        holder: this.holder,
        onWaiting: (e) => {
          this.logger.info(
            `Waiting for the migration lock on ${locationOf(e)}/${e.schema}${e.holder ? ` (held by ${e.holder})` : ''}`,
          );
          this.emit('lockWaiting', e);
        },
        onAcquired: (e) => this.emit('lockAcquired', e),
        onReleased: (e) => this.emit('lockReleased', e),
      });
    } catch (err) {
      if (err instanceof MigrationError) {
        throw new MigrationError(err.code, err.message, {
          cause: err.cause,
          ...(err.schema ? { schema: err.schema } : {}),
          ...(err.clusterId ? { clusterId: err.clusterId } : {}),
          ...(err.details ? { details: err.details } : {}),
          result: partial(),
        });
      }
      throw redactError(err as Error, this.secrets);
    }
  }

  private announce(direction: 'up' | 'down', steps: PlannedStep[], dryRun: boolean): void {
    this.emit('plan', {
      direction,
      dryRun,
      steps: steps.map((s) => ({ version: s.version, name: s.name, ...targetOf(s) })),
    });
    if (dryRun || steps.length > 0) {
      for (const line of formatPlan(direction, steps, dryRun).split('\n')) this.logger.info(line);
    }
  }

  private async execute(
    steps: PlannedStep[],
    plan: PlannedStep[],
    results: Map<string, MigrationStepResult>,
    opts: { concurrency: number; continueOnError: boolean },
  ): Promise<{ failed: boolean }> {
    const inRun = new Set(steps.map((s) => s.index));
    const byIndex = new Map(plan.map((s) => [s.index, s]));
    const runnable: PlannedStep[] = [];
    for (const s of steps) {
      const outside = s.prereqs.map((p) => byIndex.get(p)!).find((p) => !inRun.has(p.index));
      const r = this.result(results, s);
      if (outside) {
        Object.assign(r, {
          status: 'skipped',
          reason: `needs ${outside.version} on ${targetKey(outside)} first, which is still pending`,
        });
      } else runnable.push(s);
    }
    const ensured = new Set<string>();
    const resultOf = new Map(runnable.map((s) => [s, this.result(results, s)]));
    const sessions = createStepSessions();
    let outcomes: Awaited<ReturnType<typeof runScheduled>>;
    try {
      outcomes = await runScheduled(
        runnable,
        (s) => {
          const key = targetKey(s);
          const first = !ensured.has(key);
          if (first) ensured.add(key);
          return this.runOne(s, first, resultOf.get(s)!, sessions);
        },
        { ...opts, describe: (s) => `${s.version} on ${targetKey(s)}` },
      );
    } finally {
      await sessions.close();
    }
    let failed = false;
    outcomes.forEach((o, i) => {
      if (o.state === 'skipped')
        Object.assign(this.result(results, runnable[i]!), { status: 'skipped', reason: o.reason });
      if (o.state === 'failed') failed = true;
    });
    return { failed };
  }

  /** What a wave applied, added to the run's histories (the plan of a later wave depends on it). */
  private noteApplied(histories: Histories, steps: PlannedStep[], results: Map<string, MigrationStepResult>): void {
    for (const s of steps) {
      const r = results.get(stepKey(s));
      if (r?.status !== 'applied' || !s.migration) continue;
      const rows = histories.get(targetKey(s)) ?? [];
      rows.push({
        id: 0,
        schema: s.schema,
        version: s.version,
        name: s.name,
        checksum: s.migration.checksum,
        appliedAt: new Date(),
        executionMs: r.durationMs,
        appliedBy: this.holder,
      });
      histories.set(targetKey(s), rows);
    }
  }

  private result(results: Map<string, MigrationStepResult>, s: PlannedStep): MigrationStepResult {
    let r = results.get(stepKey(s));
    if (!r) results.set(stepKey(s), (r = planned(s)));
    return r;
  }

  private async runOne(
    s: PlannedStep,
    ensureSchema: boolean,
    r: MigrationStepResult,
    sessions: StepSessions,
  ): Promise<void> {
    // Event payloads are built only for listeners (a step is a few hundred microseconds of client CPU).
    const event = (): MigrationEvent => ({ version: s.version, name: s.name, ...targetOf(s), direction: s.direction });
    if (this.listenerCount('migrationStarted') > 0) this.emit('migrationStarted', event());
    const started = performance.now();
    try {
      if (s.forget) this.logger.warn(`[${s.version} ${s.schema}@${locationOf(s)}] ${s.forget}`);
      const location = locationOf(s);
      const provider = this.provider(s);
      let session: KeptSession;
      let reusable: boolean;
      for (;;) {
        session = await sessions.take(location, provider);
        try {
          reusable = await runStep(session.conn, s, {
            history: this.history,
            holder: this.holder,
            logger: this.logger,
            ensureSchema,
            checkSession: !session.reused,
          });
          break;
        } catch (err) {
          // The session's state is in doubt (an aborted transaction, a lost connection): discarded.
          await session.release(err instanceof Error ? err : new Error(String(err)));
          // A kept session that died while idle (server restart, idle_session_timeout), found out by the
          // round trip that opened the step: nothing of the step reached the database, it runs again on
          // another session. A fresh session's failure is the step's.
          if (err instanceof SessionLostError && session.reused) {
            this.logger.warn(
              `[${s.version} ${s.schema}@${location}] the kept session was lost (${redactSecrets(err.message, this.secrets)}); running the step on another one`,
            );
            continue;
          }
          throw err instanceof SessionLostError ? err.cause : err;
        }
      }
      // A transaction: false step may have left anything on its session, and a session the provider set up
      // (SET, SET ROLE) would lose that to RESET ALL: they go back to the provider (reset there).
      if (reusable) sessions.give(location, session);
      else await session.release();
      const duration = Math.round(performance.now() - started);
      r.status = s.direction === 'up' ? 'applied' : 'rolledBack';
      r.durationMs = duration;
      if (s.forget) r.reason = s.forget;
      if (this.logger.debug && this.logger !== SILENT) {
        this.logger.debug(
          `${s.direction === 'up' ? 'Applied' : 'Rolled back'} ${s.version} on ${s.schema}@${location} (${duration} ms)`,
        );
      }
      if (this.listenerCount('migrationCompleted') > 0) this.emit('migrationCompleted', { ...event(), duration });
    } catch (cause) {
      const duration = Math.round(performance.now() - started);
      const message = redactSecrets((cause as Error)?.message ?? String(cause), this.secrets);
      const error = new MigrationError(
        'MIGRATION_FAILED',
        `${s.migration?.file ?? `Migration ${s.version}`} failed (${s.direction}) on ${targetKey(s)}: ${message}`,
        { cause, version: s.version, schema: s.schema, clusterId: s.cluster },
      );
      Object.assign(r, { status: 'failed', durationMs: duration, error });
      this.logger.error(error.message);
      this.emit('migrationFailed', { ...event(), duration, error });
      throw error;
    }
  }

  private finish(direction: 'up' | 'down', steps: MigrationStepResult[], started: number): MigrationRunResult {
    const result = summarize(direction, false, steps, started);
    if (result.failed > 0) {
      const failures = steps.filter((s) => s.status === 'failed');
      throw new MigrationError(
        'MIGRATION_FAILED',
        `${direction === 'up' ? 'Migration' : 'Rollback'} failed: ${failures.map((f) => f.error!.message).join('; ')}` +
          (result.skipped > 0 ? ` (${result.skipped} step${result.skipped === 1 ? '' : 's'} skipped)` : ''),
        {
          cause: failures[0]!.error,
          result,
          version: failures[0]!.version,
          schema: failures[0]!.schema,
          clusterId: failures[0]!.cluster,
        },
      );
    }
    return result;
  }
}

/** One (migration, target) step: of a plan or of a result. */
const stepKey = (s: Target & { version: string }) => `${s.version}@${targetKey(s)}`;

function planned(s: PlannedStep): MigrationStepResult {
  return {
    version: s.version,
    name: s.name,
    ...targetOf(s),
    direction: s.direction,
    status: 'planned',
    durationMs: 0,
  };
}

function uniqueTargets(steps: readonly PlannedStep[]): Target[] {
  const m = new Map<string, Target>();
  for (const s of steps) m.set(targetKey(s), targetOf(s));
  return [...m.values()];
}

function summarize(
  direction: 'up' | 'down',
  dryRun: boolean,
  steps: MigrationStepResult[],
  started: number,
): MigrationRunResult {
  const count = (st: MigrationStepResult['status']) => steps.filter((s) => s.status === st).length;
  return {
    direction,
    dryRun,
    steps,
    applied: count('applied'),
    rolledBack: count('rolledBack'),
    failed: count('failed'),
    skipped: count('skipped'),
    durationMs: Math.round(performance.now() - started),
  };
}

/**
 * A provider whose connection failures say which cluster and node failed:
 * `CONNECTION_FAILED` with `clusterId`, the node (redacted) and the cause's code
 * (with several clusters, "one of them" helps nobody).
 */
function namedFailures(
  p: ConnectionProvider,
  clusterId: string,
  where: string,
  secrets: readonly string[],
): ConnectionProvider {
  const wrap = (err: unknown): unknown => {
    const code = connectionFailureCode(err);
    if (code === undefined || err instanceof PgmError) return err;
    const message = redactSecrets(err instanceof Error ? err.message : String(err), secrets);
    return new PgmError(
      'CONNECTION_FAILED',
      `Cannot connect to ${where}${code !== 'CONNECTION' ? ` [${code}]` : ''}: ${message}`,
      {
        cause: err,
        clusterId,
        details: /^[0-9A-Z]{5}$/.test(code) ? { sqlState: code } : { systemCode: code },
      },
    );
  };
  return {
    ...p,
    id: p.id,
    query: <R>(text: string, values?: readonly unknown[]) =>
      p.query<R>(text, values).catch((err: unknown) => Promise.reject(wrap(err))),
    withConnection: <T>(fn: (c: Connection) => Promise<T>) =>
      p.withConnection<T>(fn).catch((err: unknown) => Promise.reject(wrap(err))),
    stats: () => p.stats(),
    end: () => p.end(),
  };
}
