// Repro: withTransaction inside runWithSession rejects although the transaction committed,
// when the post-commit WAL-position query (noteWrite, for read-your-writes) fails. The
// rejection is pg's raw connection error, not a PgmError.
// The primary's proxy starts refusing right after the commit (on `transactionCommitted`).
//   TSX_TSCONFIG_PATH=bench/soak/tsconfig.json node --import tsx bench/soak/repro/commit-then-reject.ts
import { startTopology } from '@pg-multiverse/testkit';
import { PgMultiverse } from 'pg-multiverse';

const topo = await startTopology({ clusters: { a: { schemas: ['sa'] }, b: { schemas: ['sb'] } } });
const pgm = new PgMultiverse({ cluster: { healthCheckInterval: 1000 } });
try {
  await topo.cluster('a').primary.query('CREATE TABLE sa.t (id int PRIMARY KEY)');
  await topo.cluster('b').primary.query('CREATE TABLE sb.t (id int PRIMARY KEY)');
  await pgm.initialize(topo.config);
  const proxy = topo.cluster('a').primary.proxy;
  const run = async (id: number, schemas: string[]) => {
    const off = () => proxy.refuse();
    pgm.on('transactionCommitted', off);
    let error: unknown;
    try {
      await pgm.runWithSession(() =>
        pgm.withTransaction(schemas, async (tx) => {
          for (const s of schemas) await tx.query('INSERT INTO t VALUES ($1)', [id], { schema: s });
        }),
      );
    } catch (err) {
      error = err;
    } finally {
      pgm.off('transactionCommitted', off);
      proxy.restore();
    }
    const committed = [];
    for (const [c, s] of [
      ['a', 'sa'],
      ['b', 'sb'],
    ] as const) {
      if (!schemas.includes(s)) continue;
      const r = await topo.cluster(c).primary.query(`SELECT 1 FROM ${s}.t WHERE id = $1`, [id]);
      committed.push(r.rowCount === 1);
    }
    const e = error as { name?: string; code?: string; message?: string } | undefined;
    return { rejected: e !== undefined, error: e && `${e.name} ${e.code ?? ''}: ${e.message}`, committed };
  };
  const cross = await run(1, ['sa', 'sb']);
  const single = await run(2, ['sa']);
  const reproduced = [cross, single].some((r) => r.rejected && r.committed.every(Boolean));
  console.log(JSON.stringify({ repro: 'commit-then-reject', cross, single, reproduced }));
} finally {
  await pgm.close();
  await topo.stop();
}
