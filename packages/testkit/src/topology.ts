import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findPgBinaries, type PgBinaries } from './binaries.js';
import { registerCleanup } from './cleanup.js';
import { TestkitError } from './errors.js';
import { freePort } from './free-port.js';
import { createNode, type ManagedNode } from './node-handle.js';
import { isProcessAlive } from './process-alive.js';
import { quoteIdent, quoteLiteral } from './quote-ident.js';
import { type RedisHandle, startRedis } from './redis.js';
import { type ReplicaMethod, startPrimaryAndReplicas } from './replicas.js';
import { runAsServerUserSync } from './run-as.js';
import { DEFAULT_PASSWORD, PASSWORD_ROLE } from './settings.js';
import { startTcpProxy } from './tcp-proxy.js';
import { ensureTemplate, makeServerOwnedTempDir } from './template.js';
import type { NodeConnection, NodeHandle, TopologyClusterConfig, TopologyConfig } from './types.js';

export interface ClusterSpec {
  /** Streaming replicas. Default 0. */
  replicas?: number;
  /** Schemas the cluster owns (in `topo.config`), created on its primary unless `createSchemas: false`. Default []. */
  schemas?: string[];
}

export interface TopologyOptions {
  /** Cluster id -> spec. */
  clusters: Record<string, ClusterSpec>;
  /** Start a redis-server too (or use REDIS_URL when set). Default false. */
  redis?: boolean;
  /**
   * Credentials in `topo.config`: `trust` (default) -> superuser `postgres`, no password;
   * `password` -> role `pgm` with `password`, checked by scram-sha-256 (a wrong one fails with 28P01).
   */
  auth?: 'trust' | 'password';
  /** Password of role `pgm`. Default `pgm-testkit-password`. */
  password?: string;
  /** Create each cluster's `schemas` on its primary (before replicas are made). Default true. */
  createSchemas?: boolean;
  /** Extra server settings for every node, e.g. `{ max_connections: 200 }` (strings are written verbatim). */
  settings?: Record<string, string | number | boolean>;
  /**
   * How replicas are made: `template` (default; copy of the primary's template, fastest),
   * `basebackup` (pg_basebackup of the running primary) or `cold-copy` (copy of the stopped primary).
   */
  replicaMethod?: ReplicaMethod;
  /** Directory of initdb/pg_ctl/postgres; default: see `findPgBinaries`. */
  binDir?: string;
}

export interface ClusterHandle {
  readonly id: string;
  readonly schemas: readonly string[];
  readonly primary: NodeHandle;
  readonly replicas: readonly NodeHandle[];
  readonly nodes: readonly NodeHandle[];
}

/** Plain data about a node (serialisable). */
export interface NodeInfo {
  id: string;
  clusterId: string;
  role: 'primary' | 'replica';
  host: string;
  port: number;
  serverPort: number;
  dataDir: string;
  pid: number | undefined;
}

export interface Topology {
  /** Ready for `PgMultiverse#initialize()` / `createRouter()`: nodes are reached through their proxies. */
  readonly config: TopologyConfig;
  readonly clusters: Readonly<Record<string, ClusterHandle>>;
  cluster(id: string): ClusterHandle;
  /** Every node, primaries first per cluster. */
  readonly nodes: readonly NodeHandle[];
  readonly redis: RedisHandle | undefined;
  /** Temp directory holding data directories, sockets, logs and `pids.json`. Removed by `stop()`. */
  readonly dir: string;
  readonly binaries: PgBinaries;
  /** The password-protected role every node has. */
  readonly passwordRole: { user: string; password: string };
  /** PIDs of the running postmasters (and redis-server) this topology started. */
  pids(): number[];
  /** Serialisable description: `{ <clusterId>: { primary: NodeInfo, replicas: NodeInfo[] } }`. */
  describe(): Record<string, { primary: NodeInfo; replicas: NodeInfo[] }>;
  /** Stops servers, redis and proxies, and removes the temp directory. Idempotent. */
  stop(): Promise<void>;
}

const CLUSTER_ID = /^[A-Za-z0-9_-]+$/;

function info(n: NodeHandle): NodeInfo {
  return {
    id: n.id,
    clusterId: n.clusterId,
    role: n.role,
    host: n.host,
    port: n.port,
    serverPort: n.serverPort,
    dataDir: n.dataDir,
    pid: n.pid,
  };
}

/**
 * Starts real PostgreSQL clusters (a primary plus streaming replicas each),
 * every node behind a loopback TCP proxy, optionally a redis-server. Always
 * `await topo.stop()`; exit handlers clean up if a process dies first.
 */
export async function startTopology(options: TopologyOptions): Promise<Topology> {
  const ids = Object.keys(options.clusters ?? {});
  if (ids.length === 0) throw new TestkitError('startTopology: at least one cluster is required');
  for (const id of ids) {
    if (!CLUSTER_ID.test(id)) throw new TestkitError(`startTopology: cluster id "${id}" must match ${CLUSTER_ID}`);
  }
  const bins = findPgBinaries(options.binDir);
  if (options.replicaMethod === 'basebackup' && !bins.hasBasebackup) {
    throw new TestkitError(`replicaMethod 'basebackup' needs pg_basebackup, which ${bins.binDir} lacks`);
  }
  const templateP = ensureTemplate(bins);
  const dir = makeServerOwnedTempDir('pgm-testkit-');
  const password = options.password ?? DEFAULT_PASSWORD;
  const useAuth = options.auth === 'password';
  const extra = Object.entries(options.settings ?? {})
    .map(([k, v]) => `${k} = ${typeof v === 'string' ? v : String(v)}`)
    .join('\n');

  const all: ManagedNode[] = [];
  const proxies: { close(): Promise<void> }[] = [];
  let redis: RedisHandle | undefined;
  let stopped = false;

  const writePids = () => {
    if (stopped || !existsSync(dir)) return;
    try {
      writeFileSync(
        join(dir, 'pids.json'),
        `${JSON.stringify({ owner: process.pid, postgres: all.map(info).filter((n) => n.pid), redis: redis?.owned ? redis.pid : undefined }, null, 2)}\n`,
      );
    } catch {}
  };

  const syncCleanup = () => {
    stopped = true;
    for (const n of all) {
      if (!n.running) continue;
      runAsServerUserSync(
        join(bins.serverBinDir, 'pg_ctl'),
        ['-D', n.dataDir, '-m', 'immediate', '-w', '-t', '10', 'stop'],
        dir,
      );
      const pid = n.pid;
      if (pid !== undefined && n.running) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }
    }
    redis?.killSync();
    rmSync(dir, { recursive: true, force: true });
  };
  const unregister = registerCleanup(syncCleanup);

  const makeNode = async (clusterId: string, id: string, role: 'primary' | 'replica', primary?: ManagedNode) => {
    const serverPort = await freePort();
    // The proxy follows the node when a taken port makes it start on another one.
    let self: ManagedNode | undefined;
    const proxy = await startTcpProxy(() => self?.serverPort ?? serverPort);
    proxies.push(proxy);
    const connection: NodeConnection = {
      id,
      host: '127.0.0.1',
      port: proxy.port,
      database: 'postgres',
      user: useAuth ? PASSWORD_ROLE : 'postgres',
      ...(useAuth ? { password } : {}),
    };
    const node = createNode({
      id,
      clusterId,
      role,
      serverPort,
      dataDir: join(dir, `${clusterId}.${id}`),
      runDir: dir,
      bins,
      proxy,
      connection,
      upstream: () => primary,
      onPid: writePids,
      newPort: freePort,
      // A primary that moved: its cluster's standbys stream from the new port.
      onPortChanged: async () => {
        await Promise.all(all.filter((n) => n.clusterId === clusterId && n !== self).map((n) => n.followUpstream()));
      },
    });
    self = node;
    all.push(node);
    return node;
  };

  const startCluster = async (clusterId: string, spec: ClusterSpec): Promise<ClusterHandle> => {
    const template = await templateP;
    const primary = await makeNode(clusterId, 'primary', 'primary');
    const replicas: ManagedNode[] = [];
    for (let i = 1; i <= (spec.replicas ?? 0); i++) {
      replicas.push(await makeNode(clusterId, `replica-${i}`, 'replica', primary));
    }
    const schemas = spec.schemas ?? [];
    const setup: string[] = [];
    if (options.createSchemas !== false) {
      for (const s of schemas) setup.push(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(s)}`);
    }
    if (password !== DEFAULT_PASSWORD) setup.push(`ALTER ROLE ${PASSWORD_ROLE} PASSWORD ${quoteLiteral(password)}`);
    await startPrimaryAndReplicas({
      bins,
      template,
      primary,
      replicas,
      runDir: dir,
      extraConf: extra,
      method: options.replicaMethod ?? 'template',
      setup: async () => {
        if (setup.length) await primary.query(setup.join(';\n'));
      },
    });
    // Replicas have everything the setup wrote before the topology is handed out.
    await Promise.all(replicas.map((r) => r.waitForCatchUp({ timeoutMs: 60_000 })));
    return { id: clusterId, schemas, primary, replicas, nodes: [primary, ...replicas] };
  };

  let clusters: Record<string, ClusterHandle>;
  try {
    const started = await Promise.all([
      ...ids.map((id) => startCluster(id, options.clusters[id]!)),
      options.redis ? startRedis().then((r) => void (redis = r)) : Promise.resolve(undefined),
    ]);
    clusters = {};
    ids.forEach((id, i) => {
      clusters[id] = started[i] as ClusterHandle;
    });
    writePids();
  } catch (err) {
    await Promise.allSettled(all.map((n) => n.stop({ mode: 'immediate' })));
    await Promise.allSettled(proxies.map((p) => p.close()));
    await redis?.stop().catch(() => {});
    syncCleanup();
    unregister();
    throw err instanceof TestkitError ? err : new TestkitError('startTopology failed', { cause: err });
  }

  const config: TopologyConfig = {};
  for (const id of ids) {
    const c = clusters[id]!;
    const cc: TopologyClusterConfig = {
      schemas: [...c.schemas],
      primary: { ...c.primary.connection },
      replicas: c.replicas.map((r) => ({ ...r.connection })),
    };
    config[id] = cc;
  }

  let stopping: Promise<void> | undefined;
  const topo: Topology = {
    config,
    clusters,
    cluster(id) {
      const c = clusters[id];
      if (!c) throw new TestkitError(`unknown cluster "${id}"; clusters: ${ids.join(', ')}`);
      return c;
    },
    nodes: ids.flatMap((id) => clusters[id]!.nodes),
    get redis() {
      return redis;
    },
    dir,
    binaries: bins,
    passwordRole: { user: PASSWORD_ROLE, password },
    pids() {
      const p = all.filter((n) => n.running).map((n) => n.pid!);
      if (redis?.owned && redis.pid && isProcessAlive(redis.pid)) p.push(redis.pid);
      return p;
    },
    describe() {
      const out: Record<string, { primary: NodeInfo; replicas: NodeInfo[] }> = {};
      for (const id of ids) {
        const c = clusters[id]!;
        out[id] = { primary: info(c.primary), replicas: c.replicas.map(info) };
      }
      return out;
    },
    stop() {
      stopping ??= (async () => {
        await Promise.allSettled(proxies.map((p) => p.close()));
        const results = await Promise.allSettled(all.map((n) => n.stop({ mode: 'fast' })));
        const failed = all.filter((_, i) => results[i]!.status === 'rejected');
        await Promise.allSettled(failed.map((n) => n.stop({ mode: 'immediate' })));
        await redis?.stop().catch(() => {});
        syncCleanup(); // kills anything left, removes the directory
        unregister();
      })();
      return stopping;
    },
  };
  return topo;
}
