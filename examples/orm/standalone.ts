// Running an ORM example on its own: a local topology (users_cluster: a primary and 2 replicas
// owning `users`; commerce_cluster: a primary owning `orders`), a PgMultiverse that prints where
// every statement ran, and `caughtUp()` to wait until the replicas have the writes.
import { startTopology } from '@pg-multiverse/testkit';
import { PgMultiverse } from 'pg-multiverse';

export async function standalone(steps: (pgm: PgMultiverse, caughtUp: () => Promise<void>) => Promise<void>) {
  const topo = await startTopology({
    clusters: { users_cluster: { replicas: 2, schemas: ['users'] }, commerce_cluster: { schemas: ['orders'] } },
  });
  const pgm = new PgMultiverse();
  try {
    await pgm.initialize(topo.config);
    pgm.on('queryExecuted', (e) => console.log(`${e.clusterId}/${e.nodeId}`.padEnd(28), e.sql.slice(0, 90)));
    await steps(pgm, async () => {
      await Promise.all(topo.cluster('users_cluster').replicas.map((r) => r.waitForCatchUp()));
    });
  } finally {
    await pgm.close();
    await topo.stop();
  }
}
