import type {
  ClusterConfig,
  ConsistencyLevel,
  LoadBalancingConfig,
  NodeConfig,
  NodeConnectionConfig,
  PoolOptions,
  ReadPreference,
  ShardingConfig,
} from './config.js';
import { ConfigError, type ConfigIssue } from './errors.js';
import { collectSecrets } from './redact.js';
import { checkKnownKeys, checkLoadBalancing, checkPoolOptions } from './validate-options.js';
import { checkPartitionMapConfig, type NormalizedPartitionMapConfig, placePartitions } from './validate-partitions.js';

/** A node after validation: id and role assigned, connection as an object. */
export interface NormalizedNode {
  /** Unique in its cluster: `primary`, `replica-1`, or the configured id. Shards: `shard-0/primary`. */
  id: string;
  clusterId: string;
  role: 'primary' | 'replica';
  /** Shard id for sharded clusters with explicit shards. */
  shardId?: string;
  connection: NodeConnectionConfig;
  weight: number;
  pool: PoolOptions;
}

export interface NormalizedShard {
  id: string;
  primary: NormalizedNode;
  replicas: NormalizedNode[];
  /** The partitions this shard holds by the configuration (its `partitions`, or the default `p % n`), sorted. */
  partitions: number[];
}

export interface NormalizedCluster {
  id: string;
  schemas: string[];
  primary: NormalizedNode;
  replicas: NormalizedNode[];
  readPreference: ReadPreference;
  consistencyLevel: ConsistencyLevel;
  maxLagMs: number;
  sharding?: Omit<ShardingConfig, 'shards' | 'partitionMap'> & {
    shards: NormalizedShard[];
    /** Where the partition map is stored (`false`: configuration only; also when no shards are listed). */
    partitionMap: NormalizedPartitionMapConfig | false;
  };
  loadBalancing: LoadBalancingConfig;
  connectionPool: PoolOptions;
  priority: number;
}

export interface NormalizedConfiguration {
  clusters: Record<string, NormalizedCluster>;
  /** schema -> cluster id */
  schemaToCluster: Record<string, string>;
  /** The literal passwords of every node of every cluster and shard: what `redactSecrets` must hide. */
  secrets: readonly string[];
}

const NORMALIZED = Symbol.for('pg-multiverse.NormalizedConfiguration');

/** True for what `validateConfiguration` returned (passed on as is, never validated twice). */
export function isNormalizedConfiguration(config: unknown): config is NormalizedConfiguration {
  return typeof config === 'object' && config !== null && (config as { [NORMALIZED]?: unknown })[NORMALIZED] === true;
}

export interface ValidateOptions {
  /** Defaults applied under each cluster's own `connectionPool`. */
  connectionPool?: PoolOptions;
  /** Defaults applied under each cluster's own `loadBalancing`. */
  loadBalancing?: LoadBalancingConfig;
}

const CLUSTER_KEYS = [
  'schemas',
  'primary',
  'replicas',
  'readPreference',
  'consistencyLevel',
  'maxLagMs',
  'sharding',
  'loadBalancing',
  'connectionPool',
  'priority',
] as const;

const CLUSTER_REFUSED: Record<string, string> = {
  replica: 'write replicas: [...] (an array, even for one replica)',
  pool: 'write connectionPool (per cluster) or pool (per node)',
  schema: 'write schemas: [...] (an array)',
};

const READ_PREFS: readonly ReadPreference[] = ['primary', 'replica', 'any'];
const CONSISTENCY: readonly ConsistencyLevel[] = ['strong', 'session', 'bounded', 'eventual'];
const KEY_TYPES = ['int4', 'int8', 'text', 'uuid'];
const ID_RE = /^[A-Za-z0-9_.-]+$/;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkPool(p: unknown, path: string, issues: ConfigIssue[]): PoolOptions {
  checkPoolOptions(p, path, issues);
  return isObj(p) ? (p as PoolOptions) : {};
}

/** What a node object may carry; everything else is refused (see NODE_REFUSED for pg's own names). */
export const NODE_KEYS = [
  'id',
  'connectionString',
  'host',
  'port',
  'database',
  'user',
  'password',
  'ssl',
  'weight',
  'pool',
  'applicationName',
  'options',
  'keepAlive',
  'keepAliveInitialDelayMillis',
] as const;

/** `pg` connection options users pass on a node that pg-multiverse spells differently or does not take. */
const NODE_REFUSED: Record<string, string> = {
  application_name: 'write applicationName',
  fallback_application_name: 'write applicationName',
  statement_timeout: 'write pool: { statementTimeout } (ms), or connectionPool.statementTimeout for every node',
  query_timeout: 'write pool: { queryTimeout } (ms)',
  lock_timeout: "pass it as a server option: options: '-c lock_timeout=5s'",
  idle_in_transaction_session_timeout:
    "pass it as a server option: options: '-c idle_in_transaction_session_timeout=60s'",
  connectionTimeoutMillis: 'write pool: { connectionTimeoutMillis }',
  idleTimeoutMillis: 'write pool: { idleTimeoutMillis }',
  max: 'write pool: { max }',
  min: 'write pool: { min }',
  client_encoding: 'pg-multiverse always uses UTF8',
  binary: 'not supported (results are parsed as text)',
  types: 'not supported per node (use pg.types.setTypeParser)',
  stream: 'not supported',
  password_file: 'use password (a string or a function returning one)',
  sslmode: 'write ssl: true (or ssl: { rejectUnauthorized, ca }), or put ?sslmode= in the connectionString',
  replication: 'not supported',
  name: 'write id',
};

function checkNode(n: unknown, path: string, issues: ConfigIssue[]): NodeConnectionConfig | undefined {
  if (typeof n === 'string') {
    if (!/^postgres(ql)?:\/\//i.test(n)) {
      issues.push({ path, message: 'a connection string must start with postgres:// or postgresql://' });
      return undefined;
    }
    return checkUrl(n, path, issues) ? { connectionString: n } : undefined;
  }
  if (!isObj(n)) {
    issues.push({
      path,
      message: 'must be a connection object ({ host, port, database, user, password }) or a connection string',
    });
    return undefined;
  }
  const c = n as NodeConnectionConfig;
  checkKnownKeys(n, NODE_KEYS, path, issues, NODE_REFUSED);
  if (c.options !== undefined && typeof c.options !== 'string')
    issues.push({ path: `${path}.options`, message: "must be a string of server options, e.g. '-c search_path=app'" });
  if (c.keepAlive !== undefined && typeof c.keepAlive !== 'boolean')
    issues.push({ path: `${path}.keepAlive`, message: 'must be true or false' });
  if (
    c.keepAliveInitialDelayMillis !== undefined &&
    (typeof c.keepAliveInitialDelayMillis !== 'number' || !(c.keepAliveInitialDelayMillis >= 0))
  )
    issues.push({ path: `${path}.keepAliveInitialDelayMillis`, message: 'must be a non-negative number of ms' });
  if (c.ssl !== undefined && typeof c.ssl !== 'boolean' && !isObj(c.ssl))
    issues.push({ path: `${path}.ssl`, message: 'must be true, false or a tls.ConnectionOptions object' });
  if (c.connectionString !== undefined) {
    if (typeof c.connectionString !== 'string')
      issues.push({ path: `${path}.connectionString`, message: 'must be a string' });
    else checkUrl(c.connectionString, `${path}.connectionString`, issues);
  } else if (c.host === undefined) {
    issues.push({ path: `${path}.host`, message: 'is required (or give a connectionString)' });
  }
  if (c.host !== undefined && (typeof c.host !== 'string' || c.host === '')) {
    issues.push({ path: `${path}.host`, message: 'must be a non-empty string' });
  }
  if (
    c.port !== undefined &&
    (typeof c.port !== 'number' || !Number.isInteger(c.port) || c.port < 1 || c.port > 65535)
  ) {
    issues.push({
      path: `${path}.port`,
      message: `must be an integer between 1 and 65535, got ${JSON.stringify(c.port)}`,
    });
  }
  for (const k of ['database', 'user', 'applicationName', 'id'] as const) {
    if (c[k] !== undefined && typeof c[k] !== 'string')
      issues.push({ path: `${path}.${k}`, message: 'must be a string' });
  }
  if (c.id !== undefined && typeof c.id === 'string' && !ID_RE.test(c.id)) {
    issues.push({ path: `${path}.id`, message: 'may contain only letters, digits, "_", "." and "-"' });
  }
  if (c.password !== undefined && typeof c.password !== 'string' && typeof c.password !== 'function') {
    issues.push({ path: `${path}.password`, message: 'must be a string or a function returning one' });
  }
  if (c.weight !== undefined && (typeof c.weight !== 'number' || !Number.isFinite(c.weight) || c.weight < 0)) {
    issues.push({ path: `${path}.weight`, message: `must be a non-negative number, got ${JSON.stringify(c.weight)}` });
  }
  checkPool(c.pool, `${path}.pool`, issues);
  return c;
}

/** `min <= max` once defaults and overrides are merged (each part may be fine on its own). */
function checkMerged(pool: PoolOptions, path: string, issues: ConfigIssue[]): void {
  const max = pool.max ?? 10;
  if (typeof pool.min === 'number' && typeof max === 'number' && pool.min > max) {
    const issue = {
      path: `${path}.min`,
      message: `(${pool.min}) must not exceed max (${max}) once defaults are applied`,
    };
    if (!issues.some((i) => i.path === issue.path)) issues.push(issue);
  }
}

function checkUrl(s: string, path: string, issues: ConfigIssue[]): boolean {
  try {
    const u = new URL(s);
    if (u.port && !/^\d+$/.test(u.port)) throw new Error('port');
    return true;
  } catch {
    issues.push({ path, message: 'is not a valid connection URL (postgres://user:password@host:port/database)' });
    return false;
  }
}

function normNode(
  raw: NodeConfig,
  c: NodeConnectionConfig,
  clusterId: string,
  role: 'primary' | 'replica',
  defaultId: string,
  pool: PoolOptions,
  weights: Record<string, number> | undefined,
  shardId?: string,
): NormalizedNode {
  const id = (typeof raw === 'object' && raw.id) || defaultId;
  const weight = weights?.[id] ?? c.weight ?? 1;
  return {
    id,
    clusterId,
    role,
    ...(shardId ? { shardId } : {}),
    connection: c,
    weight,
    pool: { ...pool, ...(c.pool ?? {}) },
  };
}

/**
 * Validate a cluster configuration and return it normalised. Throws one
 * `ConfigError` listing every problem with its path, e.g.
 * `users_cluster.primary.port: must be an integer between 1 and 65535, got "5432x"`.
 */
export function validateConfiguration(config: unknown, options: ValidateOptions = {}): NormalizedConfiguration {
  // Validated once: the facade validates, then hands the result to the router, tx and migrate.
  if (isNormalizedConfiguration(config)) return config;
  const issues: ConfigIssue[] = [];
  const clusters: Record<string, NormalizedCluster> = {};
  const schemaToCluster: Record<string, string> = {};
  if (!isObj(config)) {
    throw new ConfigError([
      { path: '(root)', message: 'must be an object mapping cluster ids to cluster configurations' },
    ]);
  }
  const ids = Object.keys(config);
  if (ids.length === 0)
    issues.push({
      path: '(root)',
      message: 'defines no clusters; add at least one, e.g. { main: { schemas: ["public"], primary: {...} } }',
    });
  for (const clusterId of ids) {
    const cl = config[clusterId];
    const p = clusterId;
    if (!ID_RE.test(clusterId))
      issues.push({ path: p, message: 'cluster ids may contain only letters, digits, "_", "." and "-"' });
    if (!isObj(cl)) {
      issues.push({ path: p, message: 'must be an object with schemas and primary' });
      continue;
    }
    const c = cl as unknown as ClusterConfig;
    checkKnownKeys(cl, CLUSTER_KEYS, p, issues, CLUSTER_REFUSED);
    if (!Array.isArray(c.schemas) || c.schemas.length === 0) {
      issues.push({ path: `${p}.schemas`, message: 'must be a non-empty array of schema names' });
    } else {
      c.schemas.forEach((s, i) => {
        if (typeof s !== 'string' || s === '') {
          issues.push({ path: `${p}.schemas[${i}]`, message: 'must be a non-empty string' });
        } else if (schemaToCluster[s] !== undefined && schemaToCluster[s] !== clusterId) {
          issues.push({
            path: `${p}.schemas[${i}]`,
            message: `schema "${s}" is already claimed by cluster "${schemaToCluster[s]}"; a schema belongs to exactly one cluster`,
          });
        } else if (schemaToCluster[s] === clusterId) {
          issues.push({ path: `${p}.schemas[${i}]`, message: `schema "${s}" is listed twice` });
        } else {
          schemaToCluster[s] = clusterId;
        }
      });
    }
    const pool = { ...(options.connectionPool ?? {}), ...checkPool(c.connectionPool, `${p}.connectionPool`, issues) };
    checkMerged(pool, `${p}.connectionPool`, issues);
    const lb: LoadBalancingConfig = {
      ...(options.loadBalancing ?? {}),
      ...((isObj(c.loadBalancing) ? c.loadBalancing : {}) as LoadBalancingConfig),
    };
    checkLoadBalancing(c.loadBalancing, `${p}.loadBalancing`, issues);
    const weights = isObj(lb.weights) ? (lb.weights as Record<string, number>) : undefined;
    let primary: NormalizedNode | undefined;
    if (c.primary === undefined || c.primary === null) {
      issues.push({ path: `${p}.primary`, message: 'is required: every cluster needs a primary to write to' });
    } else {
      const n = checkNode(c.primary, `${p}.primary`, issues);
      if (n) primary = normNode(c.primary, n, clusterId, 'primary', 'primary', pool, weights);
    }
    const replicas: NormalizedNode[] = [];
    if (c.replicas !== undefined && !Array.isArray(c.replicas)) {
      issues.push({ path: `${p}.replicas`, message: 'must be an array of nodes' });
    } else {
      (c.replicas ?? []).forEach((r, i) => {
        const n = checkNode(r, `${p}.replicas[${i}]`, issues);
        if (n) replicas.push(normNode(r, n, clusterId, 'replica', `replica-${i + 1}`, pool, weights));
      });
    }
    const seen = new Set<string>();
    for (const n of [primary, ...replicas]) {
      if (!n) continue;
      if (seen.has(n.id)) issues.push({ path: `${p}`, message: `node id "${n.id}" is used twice in this cluster` });
      seen.add(n.id);
    }
    if (c.readPreference !== undefined && !READ_PREFS.includes(c.readPreference)) {
      issues.push({
        path: `${p}.readPreference`,
        message: `must be one of ${READ_PREFS.join(', ')}, got ${JSON.stringify(c.readPreference)}`,
      });
    }
    if (c.consistencyLevel !== undefined && !CONSISTENCY.includes(c.consistencyLevel)) {
      issues.push({
        path: `${p}.consistencyLevel`,
        message: `must be one of ${CONSISTENCY.join(', ')}, got ${JSON.stringify(c.consistencyLevel)}`,
      });
    }
    if (c.maxLagMs !== undefined && (typeof c.maxLagMs !== 'number' || c.maxLagMs < 0)) {
      issues.push({ path: `${p}.maxLagMs`, message: 'must be a non-negative number of milliseconds' });
    }
    let sharding: NormalizedCluster['sharding'];
    if (c.sharding !== undefined) {
      const s = c.sharding;
      const sp = `${p}.sharding`;
      if (!isObj(s)) issues.push({ path: sp, message: 'must be an object { strategy: "hash", key, partitions }' });
      else {
        checkKnownKeys(
          s,
          ['strategy', 'key', 'partitions', 'keyType', 'shards', 'shardFunction', 'partitionMap'],
          sp,
          issues,
        );
        if (s.strategy !== 'hash')
          issues.push({
            path: `${sp}.strategy`,
            message: `only "hash" is supported, got ${JSON.stringify(s.strategy)}`,
          });
        if (typeof s.key !== 'string' || !s.key)
          issues.push({ path: `${sp}.key`, message: 'must name the shard-key column' });
        if (typeof s.partitions !== 'number' || !Number.isInteger(s.partitions) || s.partitions < 1) {
          issues.push({
            path: `${sp}.partitions`,
            message: `must be a positive integer, got ${JSON.stringify(s.partitions)}`,
          });
        }
        if (s.keyType !== undefined && !KEY_TYPES.includes(s.keyType))
          issues.push({ path: `${sp}.keyType`, message: `must be one of ${KEY_TYPES.join(', ')}` });
        if (s.shardFunction !== undefined && typeof s.shardFunction !== 'function')
          issues.push({ path: `${sp}.shardFunction`, message: 'must be a function (key, partitions) => partition' });
        const shards: NormalizedShard[] = [];
        if (s.shards !== undefined) {
          if (!Array.isArray(s.shards) || s.shards.length === 0)
            issues.push({ path: `${sp}.shards`, message: 'must be a non-empty array of { primary, replicas }' });
          else if (
            typeof s.partitions === 'number' &&
            s.shards.length > s.partitions &&
            !s.shards.some((sh) => isObj(sh) && sh.partitions !== undefined)
          )
            issues.push({
              path: `${sp}.shards`,
              message: `has ${s.shards.length} shards for ${s.partitions} partitions; a shard without a partition would never be used`,
            });
          else
            s.shards.forEach((sh, i) => {
              const shp = `${sp}.shards[${i}]`;
              if (!isObj(sh)) {
                issues.push({ path: shp, message: 'must be an object { primary, replicas }' });
                return;
              }
              checkKnownKeys(sh, ['id', 'primary', 'replicas', 'partitions'], shp, issues, {
                replica: 'write replicas: [...]',
              });
              const sid = typeof sh.id === 'string' && sh.id ? sh.id : `shard-${i}`;
              let pn: NodeConnectionConfig | undefined;
              if (sh.primary === undefined) issues.push({ path: `${shp}.primary`, message: 'is required' });
              else pn = checkNode(sh.primary, `${shp}.primary`, issues);
              const rs: NormalizedNode[] = [];
              (Array.isArray(sh.replicas) ? sh.replicas : []).forEach((r, j) => {
                const rn = checkNode(r, `${shp}.replicas[${j}]`, issues);
                if (rn) rs.push(normNode(r, rn, clusterId, 'replica', `${sid}/replica-${j + 1}`, pool, weights, sid));
              });
              if (shards.some((x) => x.id === sid))
                issues.push({ path: `${shp}.id`, message: `shard id "${sid}" is used twice in this cluster` });
              if (pn && sh.primary)
                shards.push({
                  id: sid,
                  primary: normNode(sh.primary, pn, clusterId, 'primary', `${sid}/primary`, pool, weights, sid),
                  replicas: rs,
                  partitions: [],
                });
            });
          if (shards.length === s.shards.length && typeof s.partitions === 'number' && s.partitions >= 1) {
            const placed = placePartitions(
              shards.map((x, i) => ({ id: x.id, partitions: (s.shards![i] as { partitions?: unknown }).partitions })),
              s.partitions,
              sp,
              issues,
            );
            shards.forEach((x, i) => {
              x.partitions = placed[i]!;
            });
          }
        }
        const pm = checkPartitionMapConfig(s.partitionMap, `${sp}.partitionMap`, issues);
        const { shards: _ignored, partitionMap: _pm, ...rest } = s;
        sharding = { ...rest, shards, partitionMap: shards.length > 0 ? pm : false };
      }
    }
    if (primary && issues.length === 0) {
      const hasReplicas = replicas.length > 0;
      clusters[clusterId] = {
        id: clusterId,
        schemas: [...c.schemas],
        primary,
        replicas,
        readPreference: c.readPreference ?? (hasReplicas ? 'replica' : 'primary'),
        consistencyLevel: c.consistencyLevel ?? 'eventual',
        maxLagMs: c.maxLagMs ?? 1000,
        ...(sharding ? { sharding } : {}),
        loadBalancing: lb,
        connectionPool: pool,
        priority: typeof c.priority === 'number' ? c.priority : 0,
      };
    }
  }
  for (const c of Object.values(clusters)) {
    const coordinator = c.sharding?.partitionMap ? c.sharding.partitionMap.coordinator : undefined;
    if (coordinator !== undefined && !ids.includes(coordinator))
      issues.push({
        path: `${c.id}.sharding.partitionMap.coordinator`,
        message: `names no cluster of this configuration: "${coordinator}" (clusters: ${ids.join(', ')})`,
      });
  }
  if (issues.length > 0) throw new ConfigError(issues);
  const nodes: NormalizedNode[] = [];
  for (const c of Object.values(clusters)) {
    nodes.push(c.primary, ...c.replicas);
    for (const s of c.sharding?.shards ?? []) nodes.push(s.primary, ...s.replicas);
  }
  const secrets = Object.freeze([...new Set(collectSecrets(nodes.map((n) => n.connection as NodeConfig)))]);
  const normalized: NormalizedConfiguration = { clusters, schemaToCluster, secrets };
  Object.defineProperty(normalized, NORMALIZED, { value: true });
  return normalized;
}

/**
 * Options for `new pg.Pool(...)` from a normalised node. Pool keys follow pg's
 * names; `statementTimeout` becomes pg's `statement_timeout`.
 */
export function toPgPoolConfig(node: NormalizedNode): Record<string, unknown> {
  const c = node.connection;
  const p = node.pool;
  const out: Record<string, unknown> = {};
  if (c.connectionString) out.connectionString = c.connectionString;
  for (const k of [
    'host',
    'port',
    'database',
    'user',
    'password',
    'ssl',
    'options',
    'keepAlive',
    'keepAliveInitialDelayMillis',
  ] as const) {
    if (c[k] !== undefined) out[k] = c[k];
  }
  out.application_name = c.applicationName ?? 'pg-multiverse';
  out.max = p.max ?? 10;
  if (p.min !== undefined) out.min = p.min;
  out.idleTimeoutMillis = p.idleTimeoutMillis ?? 10_000;
  out.connectionTimeoutMillis = p.connectionTimeoutMillis ?? 5_000;
  if (p.statementTimeout !== undefined) out.statement_timeout = p.statementTimeout;
  if (p.queryTimeout !== undefined) out.query_timeout = p.queryTimeout;
  return out;
}
