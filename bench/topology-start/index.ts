// Time until a topology is ready: a primary plus 2 streaming replicas (behind
// proxies, replicas caught up), started by @pg-multiverse/testkit. Median of
// ROUNDS runs (also min/max), per replica method; the baseline measured in the
// same run is a primary alone (ratio = primary+2 replicas / primary alone).
// The first start in a fresh directory also builds the template (initdb): "cold_ms".
//   node --import tsx bench/topology-start/index.ts
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startTopology, type TopologyOptions } from '@pg-multiverse/testkit';

const ROUNDS = Number(process.env.ROUNDS ?? 5);

// A fresh cache directory, so the first start pays for initdb once (cold), the rest copy the template.
const cacheDir = mkdtempSync(join(process.env.PGM_TESTKIT_TMPDIR ?? '/dev/shm', 'pgm-bench-topology-'));
chmodSync(cacheDir, 0o755); // the server user (postgres, when we are root) must reach it
process.env.PGM_TESTKIT_TMPDIR = cacheDir;

async function timeStart(opts: TopologyOptions): Promise<number> {
  const t = performance.now();
  const topo = await startTopology(opts);
  const ms = performance.now() - t;
  await topo.stop();
  return ms;
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x);
  return { median: r(s[Math.floor(s.length / 2)] ?? 0), min: r(s[0] ?? 0), max: r(s[s.length - 1] ?? 0) };
};

const threeNodes = (replicaMethod: TopologyOptions['replicaMethod']): TopologyOptions => ({
  clusters: { users_cluster: { replicas: 2, schemas: ['users', 'auth'] } },
  replicaMethod,
});
const primaryOnly: TopologyOptions = { clusters: { users_cluster: { replicas: 0, schemas: ['users', 'auth'] } } };

try {
  const cold = await timeStart(threeNodes('template'));
  const runs: Record<string, number[]> = { template: [], primary_only: [], basebackup: [] };
  for (let i = 0; i < ROUNDS; i++) {
    // interleaved, so drift in machine load hits every variant alike
    runs.template!.push(await timeStart(threeNodes('template')));
    runs.primary_only!.push(await timeStart(primaryOnly));
    runs.basebackup!.push(await timeStart(threeNodes('basebackup')));
  }
  const t = stats(runs.template!);
  const p = stats(runs.primary_only!);
  const b = stats(runs.basebackup!);
  console.log(`primary + 2 replicas (template copies): median ${t.median} ms (min ${t.min}, max ${t.max})`);
  console.log(`primary + 2 replicas (pg_basebackup):   median ${b.median} ms (min ${b.min}, max ${b.max})`);
  console.log(`primary alone:                          median ${p.median} ms (min ${p.min}, max ${p.max})`);
  console.log(`first start incl. initdb of the template: ${Math.round(cold)} ms`);
  console.log(
    JSON.stringify({
      bench: 'topology-start',
      rounds: ROUNDS,
      median_ms: t.median,
      min_ms: t.min,
      max_ms: t.max,
      basebackup_median_ms: b.median,
      primary_only_median_ms: p.median,
      cold_ms: Math.round(cold),
      ratio: Math.round((t.median / Math.max(1, p.median)) * 100) / 100,
    }),
  );
} finally {
  rmSync(cacheDir, { recursive: true, force: true });
}
