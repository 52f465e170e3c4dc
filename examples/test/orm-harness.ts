// What the ORM tests share: two schemas of their own on the shared topology (one per cluster),
// a PgMultiverse over them, and every statement's node recorded through queryExecuted.
import { uniqueName, withSchemas } from '@pg-multiverse/testkit';
import pg from 'pg';
import { PgMultiverse, type PgMultiverseEvents } from 'pg-multiverse';
import { inject } from 'vitest';

export function ormHarness(prefix: string) {
  const { config: shared } = inject('pgmTopology');
  const users = uniqueName(`${prefix}_u`);
  const commerce = uniqueName(`${prefix}_c`);
  const ran: PgMultiverseEvents['queryExecuted'][] = [];
  const h = {
    shared,
    users,
    commerce,
    pgm: undefined as unknown as PgMultiverse,
    /** A pool on users_cluster's primary, for checks behind the library's back. */
    admin: undefined as unknown as pg.Pool,

    /** Create the schemas (and `commerceDdl` in the commerce one), start the facade. */
    async start(commerceDdl = '') {
      h.admin = new pg.Pool(shared.users_cluster!.primary as pg.PoolConfig);
      await h.admin.query(`CREATE SCHEMA ${users}`);
      const c = new pg.Pool(shared.commerce_cluster!.primary as pg.PoolConfig);
      await c.query(`CREATE SCHEMA ${commerce}; ${commerceDdl}`);
      await c.end();
      h.pgm = new PgMultiverse();
      await h.pgm.initialize(withSchemas(shared, { users_cluster: [users], commerce_cluster: [commerce] }));
      h.pgm.on('queryExecuted', (e) => ran.push(e));
    },

    async stop() {
      await h.pgm?.close();
      await h.admin?.end();
    },

    /** Run `fn`; what it returned or threw, and the statements it ran (cluster, node, role, sql, transaction). */
    async recorded<T>(fn: () => Promise<T>) {
      const from = ran.length;
      let value: T | undefined;
      let error: unknown;
      try {
        value = await fn();
      } catch (err) {
        error = err;
      }
      const statements = ran.slice(from).map((e) => ({
        cluster: e.clusterId,
        node: e.nodeId,
        role: e.role,
        sql: e.sql,
        tx: e.transactionId,
      }));
      return { value, error, statements };
    },
  };
  return h;
}
