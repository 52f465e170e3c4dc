import { type ConnectionProvider, PgmError, poolProvider } from '@pg-multiverse/core';
import { uniqueName } from '@pg-multiverse/testkit';
import pg from 'pg';
import { createTransactionManager, type TransactionManager, type TransactionManagerOptions } from '../src/index.js';

export interface ClusterConn {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
}

export interface Harness {
  tm: TransactionManager;
  pools: Record<string, pg.Pool>;
  providers: Record<string, ConnectionProvider>;
  ownerId: string;
  decisionSchema: string;
  /** Our prepared transactions on a cluster (by gid prefix). */
  prepared(clusterId: string): Promise<string[]>;
  close(): Promise<void>;
}

/** A transaction manager over one pg.Pool per cluster primary (schemas map to clusters as given). */
export function harness(
  primaries: Record<string, ClusterConn>,
  schemas: Record<string, string[]>,
  opts: Partial<TransactionManagerOptions> = {},
  poolMax = 10,
): Harness {
  const pools: Record<string, pg.Pool> = {};
  const providers: Record<string, ConnectionProvider> = {};
  for (const [id, c] of Object.entries(primaries)) {
    const pool = new pg.Pool({
      host: c.host,
      port: c.port,
      database: c.database,
      user: c.user,
      password: c.password,
      max: poolMax,
    });
    pools[id] = pool;
    providers[id] = poolProvider(pool, `${id}/primary`);
  }
  const ownerId = opts.ownerId ?? uniqueName('own').replace(/_/g, '-');
  const decisionSchema = opts.decisionSchema ?? uniqueName('pgm_tx');
  const tm = createTransactionManager({
    resolveCluster(schema) {
      for (const [id, list] of Object.entries(schemas)) if (list.includes(schema)) return id;
      throw new PgmError('UNKNOWN_SCHEMA', `unknown schema "${schema}"`, { schema });
    },
    primary(id) {
      const p = providers[id];
      if (!p) throw new PgmError('UNKNOWN_CLUSTER', `unknown cluster "${id}"`);
      return p;
    },
    clusterIds: () => Object.keys(primaries),
    recoveryIntervalMs: 0,
    ...opts,
    ownerId,
    decisionSchema,
  });
  return {
    tm,
    pools,
    providers,
    ownerId,
    decisionSchema,
    async prepared(clusterId) {
      const r = await pools[clusterId]!.query<{ gid: string }>(
        'SELECT gid FROM pg_prepared_xacts WHERE starts_with(gid, $1) ORDER BY gid',
        [`pgm:${ownerId}:`],
      );
      return r.rows.map((x) => x.gid);
    },
    async close() {
      await tm.close();
      await pools[Object.keys(primaries)[0]!]!.query(`DROP SCHEMA IF EXISTS "${decisionSchema}" CASCADE`).catch(
        () => {},
      );
      await Promise.all(Object.values(pools).map((p) => p.end()));
    },
  };
}
