// Repro (information; the soak allows for it): a `bounded` read can be older than maxLagMs,
// cache or not. The router judges a replica's lag by its last probe and does not age that
// figure between probes, so a replica whose replay stopped right after a probe serves
// bounded reads until the next probe round.
//   TSX_TSCONFIG_PATH=bench/soak/tsconfig.json node --import tsx bench/soak/repro/bounded-lag.ts
import { startTopology } from '@pg-multiverse/testkit';
import { PgMultiverse } from 'pg-multiverse';

const topo = await startTopology({ clusters: { c: { replicas: 1, schemas: ['s'] } } });
const pgm = new PgMultiverse({ cluster: { healthCheckInterval: 5000 } });
try {
  const { primary, replicas } = topo.cluster('c');
  await primary.query('CREATE TABLE s.kv (id int PRIMARY KEY, v int NOT NULL); INSERT INTO s.kv VALUES (1, 1)');
  await replicas[0]!.waitForCatchUp();
  await pgm.initialize(topo.config);
  await pgm.healthCheck(); // a probe now: the replica is caught up, lag 0
  await replicas[0]!.pauseReplay();
  await pgm.query('UPDATE kv SET v = 2 WHERE id = 1', [], { schema: 's' });
  const writtenAt = Date.now();
  await new Promise((r) => setTimeout(r, 1500));
  const r = await pgm.query<{ v: number }>('SELECT v FROM kv WHERE id = 1', [], {
    schema: 's',
    consistency: 'bounded',
    maxLagMs: 500,
  });
  const ageMs = Date.now() - writtenAt;
  console.log(
    JSON.stringify({
      repro: 'bounded-lag',
      got: r.rows[0]!.v,
      expected: 2,
      maxLagMs: 500,
      ageMs,
      reproduced: r.rows[0]!.v !== 2,
    }),
  );
  await replicas[0]!.resumeReplay();
} finally {
  await pgm.close();
  await topo.stop();
}
