// Repro: withTransaction resolves while one participant's COMMIT PREPARED is left to
// recovery (tx's `pendingRecovery`). Until recovery runs, that side of the committed
// transaction is invisible, so a read-your-writes read right after the call misses it,
// on the primary too, while the other side is visible.
// Here beta's proxy refuses as soon as beta's COMMIT PREPARED is about to be sent (a pool
// passed through `providers` whose client watches its statements), so that statement and
// its retries fail.
//   TSX_TSCONFIG_PATH=bench/soak/tsconfig.json node --import tsx bench/soak/repro/pending-recovery-ryw.ts
import { startTopology } from '@pg-multiverse/testkit';
import pg from 'pg';
import { PgMultiverse } from 'pg-multiverse';

const topo = await startTopology({ clusters: { alpha: { schemas: ['sa'] }, beta: { schemas: ['sb'] } } });
const proxy = topo.cluster('beta').primary.proxy;
let armed = false;
class WatchingClient extends pg.Client {
  override query(...args: any[]): any {
    const text = typeof args[0] === 'string' ? args[0] : '';
    if (armed && text.startsWith('COMMIT PREPARED')) proxy.refuse(); // cuts this connection too
    return (super.query as (...a: any[]) => any).apply(this, args);
  }
}
const pgm = new PgMultiverse({
  transactions: { recoveryIntervalMs: 0 },
  providers: { 'beta/primary': new pg.Pool({ ...topo.config.beta!.primary, Client: WatchingClient }) },
});
try {
  await topo.cluster('alpha').primary.query('CREATE TABLE sa.t (id int PRIMARY KEY)');
  await topo.cluster('beta').primary.query('CREATE TABLE sb.t (id int PRIMARY KEY)');
  await pgm.initialize(topo.config);
  let pending: unknown;
  pgm.on('transactionCommitted', (e) => {
    pending = e.pendingRecovery;
    // Back before the facade's post-commit WAL-position query (a separate bug: commit-then-reject.ts).
    armed = false;
    proxy.restore();
  });
  const seen = await pgm.runWithSession(async () => {
    armed = true;
    await pgm.withTransaction(['sa', 'sb'], async (tx) => {
      await tx.query('INSERT INTO t VALUES (1)', [], { schema: 'sa' });
      await tx.query('INSERT INTO t VALUES (1)', [], { schema: 'sb' });
    });
    const read = async (schema: string) =>
      (await pgm.query('SELECT 1 FROM t WHERE id = 1', [], { schema, consistency: 'session' })).rows.length === 1;
    return { sa: await read('sa'), sb: await read('sb') };
  });
  const facade = pgm as unknown as { recover?: () => Promise<unknown>; tm: { recover(): Promise<unknown> } };
  await (facade.recover ? facade.recover() : facade.tm.recover());
  const after = (await pgm.query('SELECT 1 FROM t WHERE id = 1', [], { schema: 'sb' })).rows.length === 1;
  console.log(
    JSON.stringify({
      repro: 'pending-recovery-ryw',
      resolved: true,
      pendingRecovery: pending,
      session_read_right_after: seen,
      sb_visible_after_recover: after,
      reproduced: seen.sa && !seen.sb,
    }),
  );
} finally {
  await pgm.close();
  await topo.stop();
}
