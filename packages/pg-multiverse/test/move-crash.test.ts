import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgMultiverse } from '../src/index.js';
import {
  CLUSTER,
  expectConsistent,
  type Harness,
  keysIn,
  partitionOf,
  SCHEMA,
  spawnChild,
  startHarness,
  until,
} from './fixtures/move-harness.js';
import { startLoad } from './fixtures/move-load.js';

// Issue 19: a process moving partitions is SIGKILLed after the copy started, during the hold
// (the source fenced), and right after the map commit; a fresh process recovers each time, while
// another instance keeps writing. Afterwards: one owner per partition, every row where the map
// says, equal to the control copy, no replication objects left.
let h: Harness;
let pgm: PgMultiverse;

beforeAll(async () => {
  h = await startHarness({ rerouteTimeoutMs: 2000 });
  pgm = new PgMultiverse({ enableMigrations: true, migrations: { migrationsPath: h.migrationsDir } });
  await pgm.initialize(h.config3);
  await pgm.migrate();
  const keys = Array.from({ length: 300 }, (_, i) => i + 1);
  const insert = `INSERT INTO ${SCHEMA}.orders (user_id, id, v) SELECT k, g, 0 FROM unnest($1::int8[]) AS k, generate_series(1, 10) AS g`;
  for (const shard of ['shard-0', 'shard-1']) {
    const mine = keys.filter((k) => hashOwner(k) === shard);
    await h.admin[shard]!.query(insert, [mine]);
  }
  await h.control.query(insert, [keys]);
});

afterAll(async () => {
  await pgm?.close();
  await h?.stop();
});

const hashOwner = (k: number) => `shard-${partitionOf(k) % 2}`;

const cases = [
  { crashAt: 'copy', partition: 0, source: 'shard-0', outcome: 'rolledBack', owner: 'shard-0' },
  { crashAt: 'hold', partition: 3, source: 'shard-1', outcome: 'rolledBack', owner: 'shard-1' },
  { crashAt: 'commit', partition: 4, source: 'shard-0', outcome: 'finished', owner: 'shard-2' },
] as const;

describe('a crashed move is finished or rolled back by a fresh process', () => {
  for (const c of cases) {
    it(`SIGKILL ${c.crashAt === 'copy' ? 'after the copy started' : c.crashAt === 'hold' ? 'during the hold' : 'right after the map commit'}: recovery ${c.outcome === 'finished' ? 'finishes' : 'rolls back'}`, async () => {
      const load = startLoad(pgm, h.control, {
        writers: 2,
        readers: 2,
        keys: keysIn([c.partition], 8, 50_000 + c.partition * 1000),
      });
      const mover = spawnChild({
        mode: 'move',
        config: h.config3,
        migrationsDir: h.migrationsDir,
        cluster: CLUSTER,
        partitions: [c.partition],
        to: 'shard-2',
        crashAt: c.crashAt,
        sourcePort: h.serverPort[c.source],
      });
      const killed = await mover.exited;
      expect(killed.signal, killed.stderr).toBe('SIGKILL');

      const recover = spawnChild({
        mode: 'recover',
        config: h.config3,
        migrationsDir: h.migrationsDir,
        cluster: CLUSTER,
      });
      const done = await recover.exited;
      expect(done.code, done.stderr).toBe(0);
      const recovered = done.result as Array<{ outcome: string; move: { partitions: number[]; state: string } }>;
      expect(recovered.map((r) => [r.outcome, r.move.partitions, r.move.state])).toEqual([
        [c.outcome, [c.partition], c.outcome === 'finished' ? 'done' : 'rolled_back'],
      ]);
      const written = load.progress().writes.length;
      await until(() => load.progress().writes.length > written, 'writes after the recovery');
      const result = await load.stop();
      expect(result.errors).toEqual([]);
      expect(result.rywViolations).toEqual([]);
      expect(result.writes.length).toBeGreaterThan(0);

      const owners = await expectConsistent(h);
      expect(owners[c.partition]).toBe(c.owner);
    });
  }
});
