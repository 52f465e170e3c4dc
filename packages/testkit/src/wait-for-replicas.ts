import pg from 'pg';
import { TestkitError } from './errors.js';

type NodeConfig = string | { host?: string; port?: number; user?: string; password?: string; database?: string };

function clientOf(node: NodeConfig): pg.Client {
  return new pg.Client(typeof node === 'string' ? { connectionString: node } : (node as pg.ClientConfig));
}

async function one<T>(node: NodeConfig, sql: string): Promise<T> {
  const c = clientOf(node);
  await c.connect();
  try {
    return (await c.query(sql)).rows[0] as T;
  } finally {
    await c.end();
  }
}

/**
 * Wait until every replica of a cluster (as written in a configuration, e.g. `topo.config.main`
 * or the shared topology's `inject('pgmTopology').config.users_cluster`) has replayed everything
 * its primary wrote before the call. For tests that only have the configuration (no `NodeHandle`).
 */
export async function waitForReplicas(
  cluster: { primary: NodeConfig; replicas?: readonly NodeConfig[] },
  { timeoutMs = 120_000 }: { timeoutMs?: number } = {},
): Promise<void> {
  const replicas = cluster.replicas ?? [];
  if (replicas.length === 0) return;
  const { lsn } = await one<{ lsn: string }>(cluster.primary, 'SELECT pg_current_wal_insert_lsn()::text AS lsn');
  const end = Date.now() + timeoutMs;
  await Promise.all(
    replicas.map(async (r) => {
      for (;;) {
        const { ok } = await one<{ ok: boolean }>(
          r,
          `SELECT coalesce(pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn, false) AS ok`,
        );
        if (ok) return;
        if (Date.now() > end)
          throw new TestkitError(`waitForReplicas: a replica did not replay ${lsn} in ${timeoutMs} ms`);
        await new Promise((res) => setTimeout(res, 20));
      }
    }),
  );
}
