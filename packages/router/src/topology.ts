import type {
  Balancer,
  Connection,
  ConnectionProvider,
  NodeRole,
  NodeState,
  NormalizedCluster,
  NormalizedNode,
  PoolLike,
  PoolOptions,
} from '@pg-multiverse/core';
import { createNodeState, poolProvider, toPgPoolConfig } from '@pg-multiverse/core';
import pg from 'pg';
import type { Prober } from './probe.js';
import { currentStatementContext } from './statement-context.js';

/** Everything the router knows about one node. */
export interface NodeRuntime {
  /** `clusterId/nodeId`. */
  key: string;
  id: string;
  clusterId: string;
  shardId?: string;
  configuredRole: NodeRole;
  /** Shared with balancers; mutated in place. */
  state: NodeState;
  /**
   * Where the node's statements run (`runStatement` from core): core's
   * `poolProvider` over the router's own pool or an application's `pg.Pool`,
   * or an application's own `ConnectionProvider`.
   */
  provider: ConnectionProvider;
  /** End `provider` on close (false for an application's own ConnectionProvider). */
  ownsProvider: boolean;
  /** pg client settings for the probe connection. */
  pgConfig: Record<string, unknown>;
  /** Pool options after defaults (cluster, then node). */
  pool: PoolOptions;
  prober?: Prober;
  /** Last probe succeeded. */
  reachable: boolean;
  /** Marked down (a refused probe, or `maxFailuresBeforeMarkDown` other failed probes in a row). */
  down: boolean;
  downSince: number;
  consecutiveFailures: number;
  lastError?: string;
  responseTime: number;
  /** Primary: current WAL LSN; replica: replay LSN (cached from the last probe or on-demand check). */
  lsn?: bigint;
  /** Wall-clock ms when this replica was last seen fully caught up. */
  caughtUpAt: number;
  /** Wall-clock ms when it was first seen behind (0 when caught up). */
  behindSince: number;
  /** Replica: ms since its last replayed commit, from the last probe. */
  replayAgeMs?: number;
  lagKnown: boolean;
  lagging: boolean;
  /** Failed probes since the last success: the re-probe delay doubles with each (health monitor). */
  backoffSteps: number;
  queries: number;
  errors: number;
  totalTimeMs: number;
}

/** One primary with its replicas: a whole cluster, or one shard of it. */
export interface GroupRuntime {
  /** `clusterId` or `clusterId#shardId`: the session-token key. */
  key: string;
  clusterId: string;
  shardId?: string;
  nodes: NodeRuntime[];
  /** Current write target (follows failover). */
  primary: NodeRuntime;
  /** Node ids claiming to be primary at once; writes are refused while set. */
  splitBrain?: string[];
  /** True while reads fall back to the primary because every replica is down (for the `readFallback` event). */
  fallbackActive?: boolean;
  /** Work that must succeed before statements are routed here again (`router.holdUntil`), oldest first. */
  holds?: Array<() => Promise<unknown>>;
  /** The run of `holds` in progress, shared by every statement waiting for it. */
  holding?: Promise<void>;
  /** Stable provider delegating to the current primary. */
  primaryProvider: ConnectionProvider;
  /** This group as a one-element list: the `groups` of every plan confined to it (built once, not per statement). */
  alone: readonly GroupRuntime[];
}

export interface ClusterRuntime {
  id: string;
  cfg: NormalizedCluster;
  groups: GroupRuntime[];
  /**
   * Sharded over listed shards: the group holding each partition (`owners[p]`), by the partition map
   * in force (partition-map/). Replaced as a whole when a new map version is applied.
   */
  owners?: GroupRuntime[];
  balancer: Balancer;
  down: boolean;
  downSince: number;
}

function isPoolLike(v: unknown): v is PoolLike {
  return typeof (v as PoolLike).connect === 'function' && typeof (v as PoolLike).totalCount === 'number';
}

/** Called when a statement on the primary provider (a lent session or its `query`) settles. */
export type ObserveStatement = (g: GroupRuntime, node: NodeRuntime, sql: string, t0: number, err?: unknown) => void;

export interface NodeBuildContext {
  providers: Record<string, ConnectionProvider | PoolLike> | undefined;
  /** Observation of statements run through the group's primary provider. */
  observe?: ObserveStatement;
  onIdleError: (node: { clusterId: string; nodeId: string }, err: Error) => void;
  /** Throws when the group cannot take writes (split brain, primary down). */
  guardPrimary: (g: GroupRuntime) => void;
}

export function buildNode(n: NormalizedNode, ctx: NodeBuildContext): NodeRuntime {
  const key = `${n.clusterId}/${n.id}`;
  const pgConfig = toPgPoolConfig(n);
  const given = ctx.providers?.[key];
  const onIdleError = (err: Error) => ctx.onIdleError({ clusterId: n.clusterId, nodeId: n.id }, err);
  let provider: ConnectionProvider;
  if (given === undefined) {
    provider = poolProvider(new pg.Pool(pgConfig as pg.PoolConfig) as unknown as PoolLike, key, {
      ownsPool: true,
      onIdleError,
      callbacks: true,
    });
  } else if (isPoolLike(given)) {
    provider = poolProvider(given, key, { ownsPool: false, onIdleError, callbacks: given instanceof pg.Pool });
  } else {
    provider = given;
  }
  const { max: _m, min: _n, idleTimeoutMillis: _i, ...clientConfig } = pgConfig;
  return {
    key,
    id: n.id,
    clusterId: n.clusterId,
    ...(n.shardId ? { shardId: n.shardId } : {}),
    configuredRole: n.role,
    state: createNodeState({ id: n.id, clusterId: n.clusterId, role: n.role, weight: n.weight }),
    provider,
    ownsProvider: given === undefined || isPoolLike(given),
    pgConfig: clientConfig,
    pool: n.pool,
    reachable: true,
    down: false,
    downSince: 0,
    consecutiveFailures: 0,
    responseTime: 0,
    caughtUpAt: 0,
    behindSince: 0,
    lagKnown: false,
    lagging: false,
    backoffSteps: 0,
    queries: 0,
    errors: 0,
    totalTimeMs: 0,
  };
}

/** A provider whose every call goes to the group's primary of the moment. */
/** Time `run` and report it to `observe` (success or failure); the result passes through unchanged. */
function observed<T>(
  observe: ObserveStatement | undefined,
  g: GroupRuntime,
  node: NodeRuntime,
  sql: string,
  run: () => Promise<T>,
): Promise<T> {
  // Observed inside a statement context only (the facade's transactions and migrations), so the
  // library's own housekeeping (recovery scans, preflight) does not count as application queries.
  if (!observe || !currentStatementContext()) return run();
  const t0 = performance.now();
  return run().then(
    (r) => {
      observe(g, node, sql, t0);
      return r;
    },
    (err) => {
      observe(g, node, sql, t0, err ?? new Error('statement failed'));
      throw err;
    },
  );
}

function delegatingPrimary(
  group: GroupRuntime,
  id: string,
  guard: (g: GroupRuntime) => void,
  observe: ObserveStatement | undefined,
): ConnectionProvider {
  return {
    get id() {
      return `${id}/${group.primary.id}`;
    },
    query: async (text, values) => {
      guard(group);
      const node = group.primary;
      return observed(observe, group, node, text, () => node.provider.query(text, values));
    },
    withConnection: async (fn) => {
      guard(group);
      const node = group.primary;
      if (!observe) return node.provider.withConnection(fn);
      // Every statement on the lent session is observed, like a routed one (reason `session`).
      return node.provider.withConnection((c) => {
        const lent: Connection = {
          query: (text, values, shape) => observed(observe, group, node, text, () => c.query(text, values, shape)),
          ...(c.submit ? { submit: c.submit.bind(c) } : {}),
        };
        // A pipeline (prelude + statement, one round trip) is observed as its statement.
        if (c.queryAfter) {
          const after = c.queryAfter.bind(c);
          lent.queryAfter = (prelude, text, values) =>
            observed(observe, group, node, text, () => after(prelude, text, values));
        }
        return fn(lent);
      });
    },
    stats: () => group.primary.provider.stats(),
    end: async () => {},
  } as ConnectionProvider;
}

export function buildCluster(cfg: NormalizedCluster, balancer: Balancer, ctx: NodeBuildContext): ClusterRuntime {
  const groups: GroupRuntime[] = [];
  const makeGroup = (primary: NormalizedNode, replicas: NormalizedNode[], shardId?: string) => {
    const nodes = [primary, ...replicas].map((n) => buildNode(n, ctx));
    const g: GroupRuntime = {
      key: shardId ? `${cfg.id}#${shardId}` : cfg.id,
      clusterId: cfg.id,
      ...(shardId ? { shardId } : {}),
      nodes,
      primary: nodes[0]!,
      primaryProvider: undefined as unknown as ConnectionProvider,
      alone: [],
    };
    g.primaryProvider = delegatingPrimary(g, cfg.id, ctx.guardPrimary, ctx.observe);
    g.alone = Object.freeze([g]);
    groups.push(g);
  };
  const shards = cfg.sharding?.shards ?? [];
  if (shards.length > 0) for (const s of shards) makeGroup(s.primary, s.replicas, s.id);
  else makeGroup(cfg.primary, cfg.replicas);
  return { id: cfg.id, cfg, groups, balancer, down: false, downSince: 0 };
}
