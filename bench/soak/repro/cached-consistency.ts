// Repro: a cached read ignores consistency level, role and session token.
// An eventual read from a replica whose replay is paused fills the cache with the old row;
// then `strong`, `role: 'primary'` and `session` reads with `cache: true` get that old row.
//   TSX_TSCONFIG_PATH=bench/soak/tsconfig.json node --import tsx bench/soak/repro/cached-consistency.ts
import { startTopology } from '@pg-multiverse/testkit';
import { PgMultiverse } from 'pg-multiverse';

const topo = await startTopology({ clusters: { c: { replicas: 1, schemas: ['s'] } } });
const pgm = new PgMultiverse({ enableCache: true, cluster: { healthCheckInterval: 1000 } });
try {
  const { primary, replicas } = topo.cluster('c');
  await primary.query('CREATE TABLE s.kv (id int PRIMARY KEY, v int NOT NULL); INSERT INTO s.kv VALUES (1, 1)');
  await replicas[0]!.waitForCatchUp();
  await pgm.initialize(topo.config);
  const read = async (opts: object) =>
    (await pgm.query<{ v: number }>('SELECT v FROM kv WHERE id = 1', [], { schema: 's', ...opts })).rows[0]!.v;

  await replicas[0]!.pauseReplay();
  const token = pgm.createSession();
  await pgm.runWithSession(() => pgm.query('UPDATE kv SET v = 2 WHERE id = 1', [], { schema: 's' }), token);
  // The write went through (and invalidated the table's cached reads). Now an eventual read fills the cache:
  const eventual = await read({ consistency: 'eventual', cache: true });
  const out = {
    eventual_cached: eventual, // 1: the paused replica, allowed
    strong_uncached: await read({ consistency: 'strong' }), // 2
    strong_cached: await read({ consistency: 'strong', cache: true }), // expected 2
    primary_cached: await read({ role: 'primary', cache: true }), // expected 2
    session_cached: await read({ consistency: 'session', sessionToken: token, cache: true }), // expected 2
    session_uncached: await read({ consistency: 'session', sessionToken: token }), // 2
  };
  const stale = Object.entries(out).filter(([k, v]) => !k.startsWith('eventual') && v !== 2);
  console.log(JSON.stringify({ repro: 'cached-consistency', ...out, reproduced: stale.length > 0 }));
  await replicas[0]!.resumeReplay();
} finally {
  await pgm.close();
  await topo.stop();
}
