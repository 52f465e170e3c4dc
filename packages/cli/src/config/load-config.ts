import { existsSync, readFileSync } from 'node:fs';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import {
  type ClusterConfiguration,
  ConfigError,
  type ConfigIssue,
  checkPgMultiverseOptions,
  collectSecrets,
  type NodeConfig,
  redactSecrets,
  validateConfiguration,
} from '@pg-multiverse/core';
import { importModule, type MigrationManagerOptions } from '@pg-multiverse/migrate';
import { expandEnv } from './expand-env.js';
import { CONFIG_NAMES, findConfig } from './find-config.js';

/** Migration settings a config file may carry (the facade's `migrations` block). */
export type MigrationSettings = Omit<MigrationManagerOptions, 'clusters' | 'primary' | 'schemas'>;

/**
 * A `pgm.config.*` file: either this object (the facade's shape: the other
 * options of `new PgMultiverse()` such as `enableCache` are validated, then not
 * used by the CLI; unknown keys are errors) or a bare `ClusterConfiguration`.
 */
export interface PgmConfig {
  clusters?: ClusterConfiguration;
  migrations?: MigrationSettings;
}

export interface LoadConfigOptions {
  cwd: string;
  env: Record<string, string | undefined>;
  /** `--config FILE` (relative to `cwd`). */
  configFile?: string;
  /** `--migrations DIR` (relative to `cwd`). */
  migrationsDir?: string;
  /** `--schemas`: with only DATABASE_URL these become the schemas of the `default` cluster. */
  schemas?: string[];
  /** False for commands that need no database (`create`, `list`): a missing configuration is fine. */
  requireClusters: boolean;
}

export interface LoadedConfig {
  /** Absolute path of the file, `DATABASE_URL`, or undefined when there is none. */
  source: string | undefined;
  clusters: ClusterConfiguration | undefined;
  /** Settings with `migrationsPath` absolute. */
  migrations: MigrationSettings & { migrationsPath: string };
  /** Literal passwords of the configuration, redacted from every output. */
  secrets: string[];
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function looksLikeCluster(v: unknown): boolean {
  return isPlainObject(v) && ('primary' in v || Array.isArray(v.schemas));
}

/** Split a loaded file into clusters and migration settings, whichever shape it has. */
export function splitConfig(raw: unknown, where: string): PgmConfig {
  if (!isPlainObject(raw)) {
    throw new ConfigError([{ path: where, message: 'must export an object ({ clusters, migrations } or clusters)' }]);
  }
  const wrapped =
    (isPlainObject(raw.clusters) && !looksLikeCluster(raw.clusters)) ||
    (raw.clusters === undefined && isPlainObject(raw.migrations) && !looksLikeCluster(raw.migrations));
  if (wrapped) {
    if (raw.migrations !== undefined && !isPlainObject(raw.migrations)) {
      throw new ConfigError([{ path: `${where}: migrations`, message: 'must be an object' }]);
    }
    // The facade's shape, checked as new PgMultiverse() checks it: a misspelt key is an error, not ignored.
    const issues: ConfigIssue[] = [];
    checkPgMultiverseOptions(raw, '', issues, ['clusters']);
    if (issues.length > 0)
      throw new ConfigError(issues.map((i) => ({ path: `${where}: ${i.path}`, message: i.message })));
    return {
      clusters: raw.clusters as ClusterConfiguration | undefined,
      migrations: raw.migrations as MigrationSettings | undefined,
    };
  }
  return { clusters: raw as ClusterConfiguration };
}

async function readConfigFile(file: string): Promise<unknown> {
  const ext = extname(file);
  if (ext === '.json') {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError([{ path: file, message: `cannot be read: ${(err as Error).message}` }]);
    }
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new ConfigError([{ path: file, message: `is not valid JSON: ${(err as Error).message}` }]);
    }
  }
  let mod: unknown;
  try {
    mod = await importModule(file);
  } catch (err) {
    throw new ConfigError([{ path: file, message: `cannot be loaded: ${(err as Error).message}` }]);
  }
  let value = isPlainObject(mod) && 'default' in mod ? mod.default : mod;
  if (typeof value === 'function') value = await (value as () => unknown)();
  return value;
}

function nodesOf(clusters: ClusterConfiguration): NodeConfig[] {
  const out: NodeConfig[] = [];
  for (const c of Object.values(clusters)) {
    if (!isPlainObject(c)) continue;
    if (c.primary) out.push(c.primary);
    for (const r of c.replicas ?? []) out.push(r);
    for (const s of c.sharding?.shards ?? []) {
      out.push(s.primary);
      for (const r of s.replicas ?? []) out.push(r);
    }
  }
  return out;
}

/**
 * Find and load the configuration: `--config`, else the nearest
 * `pgm.config.*` from `cwd` up, else `DATABASE_URL` (one cluster `default`
 * owning `public`, or the `--schemas` given). `${VAR}` is expanded in every
 * string. Problems are `ConfigError`s (exit code 2).
 */
export async function loadConfig(opts: LoadConfigOptions): Promise<LoadedConfig> {
  const { cwd, env } = opts;
  let file: string | undefined;
  if (opts.configFile) {
    file = resolve(cwd, opts.configFile);
    if (!existsSync(file)) throw new ConfigError([{ path: file, message: 'configuration file not found (--config)' }]);
  } else {
    file = findConfig(cwd);
  }

  let config: PgmConfig = {};
  if (file) {
    const raw = await readConfigFile(file);
    config = expandEnv(splitConfig(raw, file), env);
  }
  const databaseUrl = env.DATABASE_URL;
  let source = file;
  let clusters = config.clusters;
  if (!clusters && databaseUrl) {
    clusters = { default: { schemas: opts.schemas?.length ? [...opts.schemas] : ['public'], primary: databaseUrl } };
    source = file ?? 'DATABASE_URL';
  }

  if (!clusters && opts.requireClusters) {
    const issue: ConfigIssue = file
      ? { path: file, message: 'has no clusters, and DATABASE_URL is not set' }
      : {
          path: cwd,
          message: `no ${CONFIG_NAMES.join(', ')} here or in a parent folder, and DATABASE_URL is not set; pass --config FILE or set DATABASE_URL`,
        };
    throw new ConfigError([issue]);
  }

  const secrets = clusters ? collectSecrets(nodesOf(clusters)) : [];
  if (databaseUrl) secrets.push(...collectSecrets([databaseUrl]));
  if (clusters && opts.requireClusters) {
    try {
      validateConfiguration(clusters);
    } catch (err) {
      if (err instanceof ConfigError) {
        throw new ConfigError(err.issues.map((i) => ({ path: i.path, message: redactSecrets(i.message, secrets) })));
      }
      throw err;
    }
  }

  const base = file ? dirname(file) : cwd;
  const fromFile = config.migrations?.migrationsPath;
  const migrationsPath = opts.migrationsDir
    ? resolve(cwd, opts.migrationsDir)
    : fromFile
      ? isAbsolute(fromFile)
        ? fromFile
        : resolve(base, fromFile)
      : resolve(base, 'migrations');

  return { source, clusters, migrations: { ...config.migrations, migrationsPath }, secrets };
}
