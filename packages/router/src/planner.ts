import type { ShardKeyAnalysis, SqlAnalyzer, SqlTextAnalysis } from '@pg-multiverse/core';
import {
  ANY_FRESHNESS,
  type ConsistencyLevel,
  type Freshness,
  formatLsn,
  PgmError,
  type ReadPreference,
  type SessionRequirements,
  searchPathFor,
} from '@pg-multiverse/core';
import { writeTargets } from './cross-shard/writes.js';
import type { SchemaRegistry } from './schema-registry.js';
import { primaryOnly, type ReadRequest } from './select-node.js';
import { currentSession, type SessionToken } from './session-token.js';
import { shardTargets } from './shard.js';
import { clusterOfTablesMemo } from './table-route.js';
import type { ClusterRuntime, GroupRuntime, NodeRuntime } from './topology.js';
import type { QueryPlan, RouteOptions } from './types.js';

const NO_SCHEMA: SessionRequirements = Object.freeze({});
const PRIMARY_FRESHNESS: Freshness = Object.freeze({ level: 'primary' });

/**
 * The plan as the executor needs it: the public `QueryPlan` fields plus the
 * runtime objects they name. It is also the balancer's `ReadRequest` (one
 * object per statement, no second allocation on the hot path).
 */
export class Plan implements QueryPlan, ReadRequest {
  readonly sql: string;
  readonly kind: 'read' | 'write';
  /** Core's analysis of the text (memoized there): kind and tables. */
  readonly analysis: SqlTextAnalysis;
  readonly cluster: ClusterRuntime;
  /** The group the statement runs on (the first of `groups` for a cross-shard statement). */
  readonly g: GroupRuntime;
  /** Every group the statement concerns: one, or several for a cross-shard statement (see shard.ts). */
  readonly groups: readonly GroupRuntime[];
  /** Sharded clusters: the partitions the statement is confined to (undefined: every partition, or not sharded). */
  readonly partitions: readonly number[] | undefined;
  /** Sharded clusters: how the shards were found (`shardKey option`, `user_id in ($1)`, ...). */
  readonly shardReason: string | undefined;
  /** Sharded clusters over several servers: core's analysis of where the key is (undefined when `shardKey` decided). */
  readonly shardAnalysis: ShardKeyAnalysis | undefined;
  /** Cross-shard reads: return what the shards that answered returned, marked partial (the `allowPartial` option). */
  readonly allowPartial: boolean;
  readonly schema: string | undefined;
  readonly token: SessionToken | undefined;
  /** search_path (and, for cache fills, the position read) for the statement. */
  readonly run: SessionRequirements;
  readonly readOrigin: boolean;
  readonly cacheStrategy: 'none' | 'default' | 'aggressive' | undefined;
  // ReadRequest (reads)
  readonly role: 'primary' | 'replica' | undefined;
  readonly consistency: ConsistencyLevel;
  readonly readPreference: ReadPreference;
  readonly maxLagMs: number;
  readonly sessionLsn: bigint | undefined;
  readonly exclude: NodeRuntime | undefined = undefined;
  readonly fallbackToPrimary: boolean;
  /** Set by the planner on sharded clusters; the partition map routes by it (partition-map/). */
  partition: number | undefined = undefined;
  private fresh: Freshness | undefined;

  constructor(
    sql: string,
    analysis: SqlTextAnalysis,
    kind: 'read' | 'write',
    cluster: ClusterRuntime,
    g: GroupRuntime,
    schema: string | undefined,
    token: SessionToken | undefined,
    run: SessionRequirements,
    o: RouteOptions,
    read: { consistency: ConsistencyLevel; readPreference: ReadPreference; maxLagMs: number },
    fallbackToPrimary: boolean,
    cacheStrategy: 'none' | 'default' | 'aggressive' | undefined,
    targets?: {
      groups: readonly GroupRuntime[];
      partitions: readonly number[] | undefined;
      reason: string;
      analysis: ShardKeyAnalysis | undefined;
    },
  ) {
    this.sql = sql;
    this.groups = targets?.groups ?? cluster.groups;
    this.partitions = targets?.partitions;
    this.shardReason = targets?.reason;
    this.shardAnalysis = targets?.analysis;
    this.allowPartial = o.allowPartial === true;
    this.analysis = analysis;
    this.kind = kind;
    this.cluster = cluster;
    this.g = g;
    this.schema = schema;
    this.token = token;
    this.run = run;
    this.readOrigin = o.readOrigin === true && kind === 'read';
    this.role = o.role;
    this.consistency = read.consistency;
    this.readPreference = read.readPreference;
    this.maxLagMs = read.maxLagMs;
    this.sessionLsn = kind === 'read' && read.consistency === 'session' ? token?.positions.get(g.key) : undefined;
    this.fallbackToPrimary = fallbackToPrimary;
    this.cacheStrategy = cacheStrategy;
  }

  /** This plan, recording where a read's result came from (`route.origin`): one extra round trip. */
  withOrigin(): Plan {
    if (this.readOrigin || this.kind === 'write') return this;
    // Shares every field with this plan (its prototype); only the run options differ.
    return Object.create(this, {
      readOrigin: { value: true },
      run: { value: { ...this.run, readPosition: true } },
    }) as Plan;
  }

  /**
   * This plan for one group of a cross-shard statement, with the SQL that
   * group runs (the executor's per-shard step; it reports no event of its own).
   */
  forGroup(g: GroupRuntime, sql: string): Plan {
    return Object.create(this, {
      g: { value: g },
      groups: { value: [g] },
      sql: { value: sql },
      quiet: { value: true },
      sessionLsn: {
        value: this.kind === 'read' && this.consistency === 'session' ? this.token?.positions.get(g.key) : undefined,
      },
    }) as Plan;
  }

  /** Per-shard steps of a cross-shard statement report nothing themselves (the whole statement does). */
  get quiet(): boolean {
    return false;
  }

  get crossShard(): boolean {
    return this.groups.length > 1;
  }

  get shardIds(): readonly string[] | undefined {
    return this.g.shardId === undefined ? undefined : this.groups.map((x) => x.shardId!);
  }

  get clusterId(): string {
    return this.cluster.id;
  }

  get shardId(): string | undefined {
    return this.g.shardId;
  }

  get group(): string {
    return this.g.key;
  }

  get tables(): { readonly read: readonly string[]; readonly written: readonly string[] } {
    return this.analysis;
  }

  /** Computed on demand: only the cache asks (the session position is formatted then). */
  get freshness(): Freshness {
    if (this.fresh === undefined) this.fresh = freshnessOf(this);
    return this.fresh;
  }
}

/** A copy of a read request with some fields changed (a retry excluding the failed node, a learnt position). */
export function withRequest(r: ReadRequest, patch: Partial<ReadRequest>): ReadRequest {
  return {
    role: r.role,
    consistency: r.consistency,
    readPreference: r.readPreference,
    maxLagMs: r.maxLagMs,
    sessionLsn: r.sessionLsn,
    exclude: r.exclude,
    fallbackToPrimary: r.fallbackToPrimary,
    ...patch,
  };
}

/**
 * The freshness rule (see `Freshness` in core): what a result read elsewhere
 * must satisfy to answer this read. Mirrors how `chooseRead` picks a node:
 * primary reads need a primary's result, session reads one at or past the
 * session's position, bounded reads one young enough.
 */
function freshnessOf(p: Plan): Freshness {
  if (p.kind === 'write') return ANY_FRESHNESS;
  if (primaryOnly(p)) return PRIMARY_FRESHNESS;
  if (p.crossShard && p.consistency === 'session') {
    // Positions are per shard; one freshness cannot carry several: a position anywhere asks for primaries.
    return p.groups.some((g) => p.token?.positions.get(g.key) !== undefined) ? PRIMARY_FRESHNESS : ANY_FRESHNESS;
  }
  if (p.consistency === 'bounded') return { level: 'bounded', maxLagMs: p.maxLagMs };
  if (p.consistency === 'session' && p.sessionLsn !== undefined) {
    return { level: 'session', minLsn: formatLsn(p.sessionLsn) };
  }
  return ANY_FRESHNESS;
}

export interface Planner {
  /**
   * Plan one statement: classification, cluster, shard groups, node-choice inputs. Throws on bad
   * options. `params` are the statement's parameters (a `$n` compared with the shard key picks the shard).
   */
  plan(sql: string, o: RouteOptions, params?: readonly unknown[]): Plan;
  /** The kind of a SQL text (memoized). */
  kindOf(sql: string): 'read' | 'write';
}

export function createPlanner(
  registry: SchemaRegistry,
  analyzer: SqlAnalyzer,
  settings: { fallbackToPrimary: boolean },
): Planner {
  const searchPaths = new Map<string, SessionRequirements>();

  /** Run options per schema, built once. */
  function runOptionsFor(schema: string | undefined): SessionRequirements {
    if (schema === undefined) return NO_SCHEMA;
    let ro = searchPaths.get(schema);
    if (ro === undefined) {
      ro = { searchPath: searchPathFor(schema) };
      if (searchPaths.size > 10_000) searchPaths.clear();
      searchPaths.set(schema, ro);
    }
    return ro;
  }

  /** One SQL analysis (core's, memoized per text there): no second memo here. */
  function kindOf(sql: string): 'read' | 'write' {
    return analyzer.analyze(sql).kind;
  }

  function clusterFor(o: RouteOptions): ClusterRuntime {
    if (o.clusterId === undefined) return registry.cluster(registry.resolve(o.schema, o.shardKey));
    const c = registry.cluster(o.clusterId);
    if (o.schema !== undefined) {
      const owner = registry.resolve(o.schema);
      if (owner !== c.id) {
        throw new PgmError('INVALID_ARGUMENT', `Schema "${o.schema}" belongs to cluster "${owner}", not "${c.id}"`, {
          schema: o.schema,
          clusterId: c.id,
        });
      }
    }
    return c;
  }

  return {
    kindOf,
    plan(sql, o, params) {
      if (typeof sql !== 'string' || sql.length === 0) {
        throw new PgmError('INVALID_ARGUMENT', 'query(sql): sql must be a non-empty string');
      }
      const analysis = analyzer.analyze(sql);
      const kind = o.kind ?? analysis.kind;
      let schema = o.schema;
      let c: ClusterRuntime;
      if (schema !== undefined || o.clusterId !== undefined) c = clusterFor(o);
      else {
        // No schema given: the schema-qualified tables decide, else `defaultSchema`, else the default cluster.
        const owner = clusterOfTablesMemo(analysis, registry);
        if (owner === undefined) {
          schema = o.defaultSchema;
          c = registry.cluster(registry.resolve(schema, o.shardKey));
        } else {
          c = registry.cluster(owner);
          if (o.defaultSchema !== undefined && registry.resolve(o.defaultSchema) === owner) schema = o.defaultSchema;
        }
      }
      let targets = c.cfg.sharding ? shardTargets(c, sql, o.shardKey, params, analysis) : undefined;
      if (targets && kind === 'write' && c.groups.length > 1) {
        // Writes on several servers: no change of the key; DDL to every shard (cross-shard/writes.ts).
        targets = writeTargets(c, sql, analysis, targets, o.shardKey !== undefined && o.shardKey !== null);
      }
      const g = targets ? targets.groups[0]! : c.groups[0]!;
      const token = o.sessionToken ?? currentSession();
      const entry = schema !== undefined ? registry.entry(schema) : undefined;
      const consistency = o.consistency ?? entry?.consistencyLevel ?? c.cfg.consistencyLevel;
      if (kind === 'read' && o.role === 'replica' && o.consistency === 'strong') {
        throw new PgmError(
          'INVALID_ARGUMENT',
          "{ role: 'replica' } contradicts { consistency: 'strong' } (primary only)",
        );
      }
      const base = runOptionsFor(schema);
      const run = o.readOrigin && kind === 'read' ? { ...base, readPosition: true } : base;
      const plan = new Plan(
        sql,
        analysis,
        kind,
        c,
        g,
        schema,
        token,
        run,
        o,
        {
          consistency,
          readPreference: entry?.readPreference ?? c.cfg.readPreference,
          maxLagMs: o.maxLagMs ?? c.cfg.maxLagMs,
        },
        settings.fallbackToPrimary,
        entry?.cacheStrategy,
        targets,
      );
      // One partition on one group: the partition map routes (and holds) it by that partition.
      if (targets?.partitions?.length === 1 && targets.groups.length === 1) plan.partition = targets.partitions[0];
      return plan;
    },
  };
}
