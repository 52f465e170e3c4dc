import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startTopology, type Topology } from '@pg-multiverse/testkit';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScenarioSpec, TxSpec } from './fixtures/scenario-child.js';
import { type ClusterConn, type Harness, harness } from './helpers.js';

// Random interleavings of commits, failures and coordinator crashes over 3 clusters: whatever
// happens, after recover() every transaction is committed on all its writing participants or on
// none. c1 is the coordinator cluster: transactions on it record their decision in its own
// transaction; transactions on c2 + c3 only take the autocommit-decision road.
const CLUSTERS = ['c1', 'c2', 'c3'] as const;
const pkgDir = fileURLToPath(new URL('..', import.meta.url));
let topo: Topology;
let h: Harness;
let primaries: Record<string, ClusterConn>;

beforeAll(async () => {
  topo = await startTopology({
    clusters: { c1: { schemas: ['s_c1'] }, c2: { schemas: ['s_c2'] }, c3: { schemas: ['s_c3'] } },
  });
  primaries = Object.fromEntries(CLUSTERS.map((id) => [id, topo.config[id]!.primary]));
  h = harness(primaries, { c1: ['s_c1'], c2: ['s_c2'], c3: ['s_c3'] }, { safeAgeMs: 0, coordinatorClusterId: 'c1' });
  for (const id of CLUSTERS) {
    const s = `s_${id}`;
    await h.pools[id]!.query(`
      CREATE TABLE ${s}.items (marker text NOT NULL);
      CREATE TABLE ${s}.dup (k int, CONSTRAINT dup_k UNIQUE (k) DEFERRABLE INITIALLY DEFERRED);
      CREATE FUNCTION ${s}.insert_item(m text) RETURNS int LANGUAGE sql AS $$ INSERT INTO ${s}.items VALUES (m) RETURNING 1 $$;`);
  }
  await h.tm.preflight();
});

afterAll(async () => {
  await h?.close();
  await topo?.stop();
});

/** Run a scenario in a child process; SIGKILL it if it reaches its crash point. */
async function runChild(spec: ScenarioSpec): Promise<{ killed: boolean; outcomes?: string[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/scenario-child.ts'], {
    cwd: pkgDir,
    env: { ...process.env, PGM_SCENARIO: JSON.stringify(spec), TSX_TSCONFIG_PATH: 'test/fixtures/tsconfig.json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += String(d);
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  for await (const line of createInterface({ input: child.stdout })) {
    if (line === 'PAUSED') {
      child.kill('SIGKILL');
      await exited;
      return { killed: true };
    }
    if (line.startsWith('DONE ')) {
      await exited;
      return { killed: false, outcomes: JSON.parse(line.slice(5)) as string[] };
    }
  }
  await exited;
  throw new Error(`scenario child ended without an outcome: ${stderr}`);
}

let run = 0;
const txArb = fc.record({
  participants: fc.shuffledSubarray([...CLUSTERS], { minLength: 2, maxLength: 3 }),
  modes: fc.array(fc.constantFrom('insert' as const, 'read' as const, 'fnwrite' as const), {
    minLength: 3,
    maxLength: 3,
  }),
  fault: fc.constantFrom('none' as const, 'none' as const, 'throw' as const, 'deferred' as const),
  faultAt: fc.nat(2),
  delayMs: fc.nat(15),
});
const scenarioArb = fc.record({
  txs: fc.array(txArb, { minLength: 1, maxLength: 4 }),
  crash: fc.option(fc.record({ tx: fc.nat(3), point: fc.constantFrom('afterPrepare', 'afterDecision') }), {
    nil: undefined,
  }),
});

describe('atomicity under random interleavings (property)', () => {
  it('every transaction ends all-committed or all-rolled-back after recover()', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        run++;
        const txs: TxSpec[] = scenario.txs.map((t, i) => ({ ...t, marker: `r${run}-t${i}` }));
        const crash = scenario.crash && {
          tx: scenario.crash.tx % txs.length,
          point: scenario.crash.point as 'afterPrepare' | 'afterDecision',
        };
        const result = await runChild({
          primaries,
          ownerId: h.ownerId,
          decisionSchema: h.decisionSchema,
          coordinatorClusterId: 'c1',
          txs,
          ...(crash ? { crash } : {}),
        });
        // Twice: a coordinator transaction still finishing on a dying connection is waited for by the first.
        await h.tm.recover();
        const report = await h.tm.recover();
        expect(report.ran).toBe(true);
        for (const id of CLUSTERS) expect(await h.prepared(id)).toEqual([]);
        for (const [i, t] of txs.entries()) {
          const writers = t.participants.filter((_, k) => t.modes[k] !== 'read');
          const seen = await Promise.all(
            writers.map(
              async (id) =>
                (
                  await h.pools[id]!.query<{ n: number }>(
                    `SELECT count(*)::int AS n FROM s_${id}.items WHERE marker = $1`,
                    [t.marker],
                  )
                ).rows[0]!.n,
            ),
          );
          const outcome = result.outcomes?.[i] ?? 'killed';
          const where = `${t.marker} (${JSON.stringify(t)}) outcome ${outcome}, rows per writer ${JSON.stringify(seen)}`;
          // All or nothing, whatever happened.
          expect(new Set(seen).size <= 1, where).toBe(true);
          if (outcome === 'committed')
            expect(
              seen.every((n) => n === 1),
              where,
            ).toBe(true);
          if (outcome === 'rolled_back')
            expect(
              seen.every((n) => n === 0),
              where,
            ).toBe(true);
          if (t.fault !== 'none')
            expect(
              seen.every((n) => n === 0),
              where,
            ).toBe(true);
        }
      }),
      {
        numRuns: Number(process.env.PGM_PROPERTY_RUNS ?? 12),
        endOnFailure: true,
        // Always tried first: each crash point on both roads (the coordinator cluster c1 taking part
        // and holding the decision in its own transaction; c2 + c3 with the decision apart).
        examples: (['afterPrepare', 'afterDecision'] as const).flatMap((point) =>
          [['c1', 'c2', 'c3'] as const, ['c2', 'c3'] as const].map(
            (participants): [typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never] => [
              {
                txs: [
                  {
                    participants: [...participants],
                    modes: ['insert', 'fnwrite', 'insert'],
                    fault: 'none',
                    faultAt: 0,
                    delayMs: 0,
                  },
                ],
                crash: { tx: 0, point },
              },
            ],
          ),
        ),
      },
    );
  }, 600_000);
});
