// Starts a local topology (users_cluster: primary + 2 streaming replicas;
// commerce_cluster: a primary), prints its nodes, writes on a primary, reads
// the row back from a replica through its proxy, and stops everything.
//   cd examples && node --import tsx topology-smoke.ts
import { startTopology } from '@pg-multiverse/testkit';
import pg from 'pg';

const topo = await startTopology({
  clusters: {
    users_cluster: { replicas: 2, schemas: ['users', 'auth'] },
    commerce_cluster: { replicas: 0, schemas: ['orders'] },
  },
});
try {
  console.log(`PostgreSQL: ${topo.binaries.version} (${topo.binaries.binDir})`);
  for (const n of topo.nodes) {
    console.log(
      `  ${n.key.padEnd(26)} ${n.role.padEnd(8)} proxy 127.0.0.1:${n.port}  server :${n.serverPort}  pid ${n.pid}`,
    );
  }

  const users = topo.cluster('users_cluster');
  const primary = new pg.Client(users.primary.connection);
  await primary.connect();
  await primary.query('CREATE TABLE users.accounts (id serial PRIMARY KEY, email text NOT NULL)');
  const { rows } = await primary.query<{ id: number }>(
    "INSERT INTO users.accounts (email) VALUES ('ada@example.com') RETURNING id",
  );
  await primary.end();
  console.log(`inserted users.accounts id ${rows[0]!.id} on ${users.primary.key}`);

  const replica = users.replicas[0]!;
  await replica.waitForCatchUp();
  const r = new pg.Client(replica.connection);
  await r.connect();
  const back = await r.query<{ email: string; in_recovery: boolean }>(
    'SELECT email, pg_is_in_recovery() AS in_recovery FROM users.accounts WHERE id = $1',
    [rows[0]!.id],
  );
  await r.end();
  console.log(`read back from ${replica.key} (in recovery: ${back.rows[0]!.in_recovery}): ${back.rows[0]!.email}`);
} finally {
  await topo.stop();
  console.log('stopped; temp directory removed');
}
