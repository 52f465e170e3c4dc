/**
 * The one home of option validation: every options object of pg-multiverse
 * (the facade's, `createRouter`'s, `createQueryCache`'s, `MigrationManager`'s
 * and a `pgm.config.*` file) is checked here, one `ConfigIssue` per problem,
 * unknown keys included (with a did-you-mean).
 */
import { ConfigError, type ConfigIssue } from './errors.js';

type Obj = Record<string, unknown>;

const j = (path: string, key: string) => (path ? `${path}.${key}` : key);

export function isPlainObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Edit distance (insertions, deletions, substitutions, adjacent swaps). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The known key closest to `input` when it is a plausible typo (case, `_` and `-` ignored). */
export function didYouMean(input: string, candidates: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[_-]/g, '');
  const needle = norm(input);
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const dist = editDistance(needle, norm(c));
    if (dist < bestDistance) {
      best = c;
      bestDistance = dist;
    }
  }
  if (best === undefined) return undefined;
  if (bestDistance <= Math.max(1, Math.floor(Math.max(needle.length, best.length) / 3))) return best;
  return candidates.find(
    (c) => needle.length >= 3 && norm(c).length >= 3 && (norm(c).startsWith(needle) || needle.startsWith(norm(c))),
  );
}

/**
 * One issue per key of `obj` not in `known`. `refused` names keys users
 * commonly pass (for example pg's own option names) with what to write instead.
 */
export function checkKnownKeys(
  obj: Obj,
  known: readonly string[],
  path: string,
  issues: ConfigIssue[],
  refused: Readonly<Record<string, string>> = {},
): void {
  for (const key of Object.keys(obj)) {
    if (known.includes(key)) continue;
    const at = path ? j(path, key) : key;
    const why = Object.hasOwn(refused, key) ? refused[key] : undefined;
    if (why) {
      issues.push({ path: at, message: `is not an option here: ${why}` });
      continue;
    }
    const guess = didYouMean(key, known);
    issues.push({
      path: at,
      message: `is not a known option${guess ? `; did you mean "${guess}"?` : ''} (known: ${known.join(', ')})`,
    });
  }
}

type NumberRule = { min?: number; integer?: boolean; minExclusive?: number; note?: string };

function checkNumber(o: Obj, key: string, path: string, issues: ConfigIssue[], rule: NumberRule = {}): void {
  const v = o[key];
  if (v === undefined) return;
  const at = j(path, key);
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    issues.push({ path: at, message: `must be a number, got ${JSON.stringify(v) ?? typeof v}` });
    return;
  }
  if (rule.integer && !Number.isInteger(v)) {
    issues.push({ path: at, message: `must be an integer, got ${v}` });
    return;
  }
  const min = rule.min ?? 0;
  if (rule.minExclusive !== undefined ? v <= rule.minExclusive : v < min) {
    const bound = rule.minExclusive !== undefined ? `greater than ${rule.minExclusive}` : `at least ${min}`;
    issues.push({ path: at, message: `must be ${bound}${rule.note ? ` (${rule.note})` : ''}, got ${v}` });
  }
}

function checkBoolean(o: Obj, key: string, path: string, issues: ConfigIssue[]): void {
  const v = o[key];
  if (v !== undefined && typeof v !== 'boolean') {
    issues.push({ path: j(path, key), message: `must be true or false, got ${JSON.stringify(v) ?? typeof v}` });
  }
}

function checkString(o: Obj, key: string, path: string, issues: ConfigIssue[]): void {
  const v = o[key];
  if (v !== undefined && (typeof v !== 'string' || v === '')) {
    issues.push({ path: j(path, key), message: `must be a non-empty string, got ${JSON.stringify(v) ?? typeof v}` });
  }
}

function checkFunction(o: Obj, key: string, path: string, issues: ConfigIssue[], what: string): void {
  const v = o[key];
  if (v !== undefined && typeof v !== 'function') issues.push({ path: j(path, key), message: `must be ${what}` });
}

/** Returns the object to check further, or undefined (after an issue when it is not an object). */
function objectAt(v: unknown, path: string, issues: ConfigIssue[], shape: string): Obj | undefined {
  if (v === undefined) return undefined;
  if (!isPlainObject(v)) {
    issues.push({ path, message: `must be an object like ${shape}` });
    return undefined;
  }
  return v;
}

// ---- pool ---------------------------------------------------------------------------------

export const POOL_KEYS = [
  'min',
  'max',
  'warmupConnections',
  'idleTimeoutMillis',
  'connectionTimeoutMillis',
  'statementTimeout',
  'queryTimeout',
] as const;

const POOL_REFUSED: Record<string, string> = {
  statement_timeout: 'write statementTimeout (ms)',
  query_timeout: 'write queryTimeout (ms)',
  idle_timeout: 'write idleTimeoutMillis',
  maxUses: 'not supported by pg-multiverse pools',
  allowExitOnIdle: 'not needed: pg-multiverse pools never keep the process alive after close()',
};

/** `PoolOptions` problems under `path` (unknown keys, numbers, `min <= max`). */
export function checkPoolOptions(p: unknown, path: string, issues: ConfigIssue[]): void {
  const o = objectAt(p, path, issues, '{ min, max, idleTimeoutMillis }');
  if (!o) return;
  checkKnownKeys(o, POOL_KEYS, path, issues, POOL_REFUSED);
  checkNumber(o, 'min', path, issues, { integer: true });
  checkNumber(o, 'max', path, issues, { integer: true, min: 1 });
  for (const k of ['idleTimeoutMillis', 'connectionTimeoutMillis', 'statementTimeout', 'queryTimeout']) {
    checkNumber(o, k, path, issues);
  }
  checkBoolean(o, 'warmupConnections', path, issues);
  if (typeof o.min === 'number' && typeof o.max === 'number' && o.min > o.max) {
    issues.push({ path: `${path}.min`, message: `(${o.min}) must not exceed max (${o.max})` });
  }
}

// ---- monitor, load balancing -------------------------------------------------------------

export const MONITOR_KEYS = [
  'healthCheckInterval',
  'healthCheckTimeout',
  'retryAttempts',
  'maxFailuresBeforeMarkDown',
  'lagWarningMs',
  'fallbackToPrimary',
] as const;

/** The smallest `healthCheckInterval` accepted, ms (smaller is a busy probe loop). */
export const MIN_HEALTH_CHECK_INTERVAL_MS = 10;

export function checkMonitorOptions(m: unknown, path: string, issues: ConfigIssue[]): void {
  const o = objectAt(m, path, issues, '{ healthCheckInterval, healthCheckTimeout }');
  if (!o) return;
  checkKnownKeys(o, MONITOR_KEYS, path, issues);
  checkNumber(o, 'healthCheckInterval', path, issues, {
    min: MIN_HEALTH_CHECK_INTERVAL_MS,
    note: 'ms between probe rounds',
  });
  checkNumber(o, 'healthCheckTimeout', path, issues, { minExclusive: 0 });
  checkNumber(o, 'retryAttempts', path, issues, { integer: true, min: 1 });
  checkNumber(o, 'maxFailuresBeforeMarkDown', path, issues, { integer: true, min: 1 });
  checkNumber(o, 'lagWarningMs', path, issues);
  checkBoolean(o, 'fallbackToPrimary', path, issues);
}

const STRATEGIES = ['round_robin', 'weighted', 'least_connections', 'response_time', 'health_aware', 'power_of_two'];

export function checkLoadBalancing(lb: unknown, path: string, issues: ConfigIssue[]): void {
  const o = objectAt(lb, path, issues, "{ strategy: 'round_robin', weights, healthThreshold }");
  if (!o) return;
  checkKnownKeys(o, ['strategy', 'weights', 'healthThreshold'], path, issues);
  const s = o.strategy;
  if (s !== undefined) {
    if (typeof s === 'string') {
      if (!STRATEGIES.includes(s)) {
        const guess = didYouMean(s, STRATEGIES);
        issues.push({
          path: `${path}.strategy`,
          message: `unknown strategy ${JSON.stringify(s)}${guess ? `; did you mean "${guess}"?` : ''} (one of ${STRATEGIES.join(', ')}, or a Balancer object)`,
        });
      }
    } else if (!isPlainObject(s) || typeof s.pick !== 'function') {
      issues.push({ path: `${path}.strategy`, message: 'must be a strategy name or a Balancer { name, pick }' });
    }
  }
  if (
    o.healthThreshold !== undefined &&
    (typeof o.healthThreshold !== 'number' || !(o.healthThreshold >= 0 && o.healthThreshold <= 100))
  ) {
    issues.push({ path: `${path}.healthThreshold`, message: 'must be a number between 0 and 100' });
  }
  if (o.weights !== undefined) {
    if (!isPlainObject(o.weights)) issues.push({ path: `${path}.weights`, message: 'must map node ids to numbers' });
    else
      for (const [k, v] of Object.entries(o.weights)) {
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
          issues.push({ path: `${path}.weights.${k}`, message: 'must be a non-negative number' });
      }
  }
}

// ---- cache ------------------------------------------------------------------------------------

export const CACHE_KEYS = [
  'store',
  'maxSize',
  'maxBytes',
  'ttl',
  'enableCompression',
  'compressionThreshold',
  'swrMs',
  'writeInvalidation',
  'maxTrackedTags',
  'hotEntries',
] as const;

export function checkCacheOptions(
  c: unknown,
  path: string,
  issues: ConfigIssue[],
  extraKeys: readonly string[] = [],
): void {
  const o = objectAt(c, path, issues, '{ maxSize, ttl, store }');
  if (!o) return;
  checkKnownKeys(o, [...CACHE_KEYS, ...extraKeys], path, issues);
  checkNumber(o, 'maxSize', path, issues, { integer: true, min: 1 });
  checkNumber(o, 'maxBytes', path, issues, { min: 1 });
  checkNumber(o, 'ttl', path, issues);
  checkNumber(o, 'compressionThreshold', path, issues);
  checkNumber(o, 'swrMs', path, issues);
  checkNumber(o, 'maxTrackedTags', path, issues, { integer: true });
  checkNumber(o, 'hotEntries', path, issues, { integer: true });
  checkBoolean(o, 'enableCompression', path, issues);
  if (o.writeInvalidation !== undefined && o.writeInvalidation !== 'tables' && o.writeInvalidation !== 'schema') {
    issues.push({ path: `${path}.writeInvalidation`, message: "must be 'tables' or 'schema'" });
  }
  if (o.store !== undefined) {
    const s = o.store as Obj | null;
    const missing = ['get', 'set', 'invalidate'].filter((m) => typeof s?.[m] !== 'function');
    if (typeof s !== 'object' || s === null) issues.push({ path: `${path}.store`, message: 'must be a CacheStore' });
    else if (missing.length > 0)
      issues.push({ path: `${path}.store`, message: `is not a CacheStore: it lacks ${missing.join(', ')}` });
  }
  for (const k of extraKeys) checkBoolean(o, k, path, issues);
}

/** Options of `createQueryCache(options)`; throws one `ConfigError` listing every problem. */
export function validateCacheOptions(options: unknown, path = 'createQueryCache'): void {
  const issues: ConfigIssue[] = [];
  checkCacheOptions(options, path, issues);
  if (issues.length > 0) throw new ConfigError(issues);
}

// ---- migrations -------------------------------------------------------------------------------

export const MIGRATION_KEYS = [
  'migrationsPath',
  'migrationsTable',
  'lockTable',
  'controlSchema',
  'autoCreateMigrationsTable',
  'validateChecksums',
  'allowOutOfOrder',
  'lockTimeout',
  'batchSize',
  'logger',
  'holder',
] as const;

export function checkMigrationOptions(
  m: unknown,
  path: string,
  issues: ConfigIssue[],
  extraKeys: readonly string[] = [],
): void {
  const o = objectAt(m, path, issues, "{ migrationsPath: './migrations' }");
  if (!o) return;
  checkKnownKeys(o, [...MIGRATION_KEYS, ...extraKeys], path, issues);
  for (const k of ['migrationsPath', 'migrationsTable', 'lockTable', 'controlSchema', 'holder']) {
    checkString(o, k, path, issues);
  }
  for (const k of ['autoCreateMigrationsTable', 'validateChecksums', 'allowOutOfOrder'])
    checkBoolean(o, k, path, issues);
  checkNumber(o, 'lockTimeout', path, issues);
  checkNumber(o, 'batchSize', path, issues, { integer: true, min: 1 });
  if (o.logger !== undefined && (typeof o.logger !== 'object' || o.logger === null)) {
    issues.push({ path: `${path}.logger`, message: 'must be an object with info/warn/error methods' });
  }
}

/** Options of `new MigrationManager(options)` (besides `clusters`, checked by `validateConfiguration`). */
export function validateMigrationOptions(options: unknown, path = 'MigrationManager'): void {
  const issues: ConfigIssue[] = [];
  if (!isPlainObject(options)) {
    issues.push({ path, message: 'must be an object with clusters' });
  } else {
    checkMigrationOptions(options, path, issues, ['clusters', 'primary', 'schemas']);
    checkFunction(options, 'primary', path, issues, 'a function (clusterId, shardId?) => ConnectionProvider');
    checkFunction(options, 'schemas', path, issues, 'a function () => Record<schema, clusterId>');
  }
  if (issues.length > 0) throw new ConfigError(issues);
}

// ---- router -------------------------------------------------------------------------------------

export const ROUTER_KEYS = [
  'monitor',
  'loadBalancing',
  'connectionPool',
  'providers',
  'defaultCluster',
  'writeFunctions',
  'secrets',
  'lazyConnect',
] as const;

function checkProviders(o: Obj, path: string, issues: ConfigIssue[]): void {
  const p = o.providers;
  if (p === undefined) return;
  if (!isPlainObject(p)) {
    issues.push({ path: j(path, 'providers'), message: "must map 'cluster/node' to a pg.Pool or ConnectionProvider" });
    return;
  }
  for (const [k, v] of Object.entries(p)) {
    if (!/^[^/]+\/.+$/.test(k))
      issues.push({ path: `${j(path, 'providers')}.${k}`, message: "keys are 'cluster/node'" });
    if (typeof (v as Obj | null)?.query !== 'function')
      issues.push({ path: `${j(path, 'providers')}.${k}`, message: 'must be a pg.Pool or a ConnectionProvider' });
  }
}

function checkStringArray(o: Obj, key: string, path: string, issues: ConfigIssue[]): void {
  const v = o[key];
  if (v !== undefined && (!Array.isArray(v) || v.some((s) => typeof s !== 'string'))) {
    issues.push({ path: j(path, key), message: 'must be an array of strings' });
  }
}

/** Options of `createRouter(config, options)`; throws one `ConfigError` listing every problem. */
export function validateRouterOptions(options: unknown, path = 'createRouter'): void {
  const issues: ConfigIssue[] = [];
  const o = objectAt(options, path, issues, '{ monitor, loadBalancing, connectionPool }');
  if (o) {
    checkKnownKeys(o, ROUTER_KEYS, path, issues);
    checkMonitorOptions(o.monitor, `${path}.monitor`, issues);
    checkLoadBalancing(o.loadBalancing, `${path}.loadBalancing`, issues);
    checkPoolOptions(o.connectionPool, `${path}.connectionPool`, issues);
    checkProviders(o, path, issues);
    checkString(o, 'defaultCluster', path, issues);
    checkStringArray(o, 'writeFunctions', path, issues);
    checkStringArray(o, 'secrets', path, issues);
    checkBoolean(o, 'lazyConnect', path, issues);
  }
  if (issues.length > 0) throw new ConfigError(issues);
}

// ---- facade ---------------------------------------------------------------------------------------

export const FACADE_KEYS = [
  'enableCache',
  'enableMetrics',
  'enableTransactions',
  'enableMigrations',
  'lazyConnect',
  'cache',
  'migrations',
  'cluster',
  'loadBalancing',
  'connectionPool',
  'transactions',
  'providers',
  'tracing',
  'tracer',
  'defaultCluster',
  'writeFunctions',
] as const;

const FACADE_REFUSED: Record<string, string> = {
  monitor: 'the facade calls the health monitor options "cluster"',
  pool: 'write connectionPool',
  clusters: 'clusters are passed to initialize(config), not to new PgMultiverse()',
};

/** Problems of `new PgMultiverse(options)` (also the facade-shaped `pgm.config.*` file). */
export function checkPgMultiverseOptions(
  options: unknown,
  path: string,
  issues: ConfigIssue[],
  extraKeys: readonly string[] = [],
): void {
  const o = objectAt(options, path || '(root)', issues, '{ enableCache, cluster, connectionPool }');
  if (!o) return;
  const at = (k: string) => j(path, k);
  const refused = { ...FACADE_REFUSED };
  for (const k of extraKeys) delete refused[k];
  checkKnownKeys(o, [...FACADE_KEYS, ...extraKeys], path, issues, refused);
  for (const k of [
    'enableCache',
    'enableMetrics',
    'enableTransactions',
    'enableMigrations',
    'lazyConnect',
    'tracing',
  ]) {
    checkBoolean(o, k, path, issues);
  }
  checkCacheOptions(o.cache, at('cache'), issues, ['notify']);
  checkMigrationOptions(o.migrations, at('migrations'), issues);
  checkMonitorOptions(o.cluster, at('cluster'), issues);
  checkLoadBalancing(o.loadBalancing, at('loadBalancing'), issues);
  checkPoolOptions(o.connectionPool, at('connectionPool'), issues);
  checkProviders(o, path, issues);
  const t = objectAt(o.transactions, at('transactions'), issues, '{ coordinatorClusterId, recoveryIntervalMs }');
  if (t) {
    checkKnownKeys(t, ['coordinatorClusterId', 'recoveryIntervalMs', 'safeAgeMs'], at('transactions'), issues);
    checkString(t, 'coordinatorClusterId', at('transactions'), issues);
    checkNumber(t, 'recoveryIntervalMs', at('transactions'), issues);
    checkNumber(t, 'safeAgeMs', at('transactions'), issues);
  }
  checkString(o, 'defaultCluster', path, issues);
  checkStringArray(o, 'writeFunctions', path, issues);
  if (o.tracer !== undefined && typeof (o.tracer as Obj | null)?.startSpan !== 'function') {
    issues.push({ path: at('tracer'), message: 'must have a startSpan(name, { attributes }) method' });
  } else if (o.tracer !== undefined && o.tracing === false) {
    issues.push({ path: at('tracer'), message: 'a tracer with tracing: false makes no sense: drop one of them' });
  }
}

/** Options of `new PgMultiverse(options)`; throws one `ConfigError` listing every problem. */
export function validatePgMultiverseOptions(options: unknown): void {
  const issues: ConfigIssue[] = [];
  checkPgMultiverseOptions(options, '', issues);
  if (issues.length > 0) throw new ConfigError(issues);
}
