// ns per pick of every built-in balancer with 2, 8 and 64 candidates, against
// a plain array-index "balancer" measured in the same run, interleaved round
// by round (median of ROUNDS), in CPU time of this process per pick. Also bytes allocated per pick (heap growth with
// GC forced before each measure), to check the allocation-free claim.
//   node --import tsx bench/balancer/index.ts
import { cpus, loadavg } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  healthAware,
  leastConnections,
  powerOfTwoChoices,
  responseTime,
  roundRobin,
  weighted,
} from '@pg-multiverse/balancer';
import { type Balancer, createNodeState, type NodeState, type PickContext } from '@pg-multiverse/core';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const SIZES = [2, 8, 64] as const;
const ROUNDS = 7;
const picksFor = (n: number) => (n >= 64 ? 100_000 : 500_000);

const baseline = (): Balancer => {
  let i = 0;
  return {
    name: 'array_index',
    pick(c) {
      const n = c.length;
      if (n === 0) return undefined;
      if (i >= n) i = 0;
      return c[i++];
    },
  };
};

const strategies: Record<string, () => Balancer> = {
  array_index: baseline,
  round_robin: roundRobin,
  weighted: () => weighted(),
  least_connections: leastConnections,
  response_time: () => responseTime(),
  health_aware: () => healthAware(),
  power_of_two: () => powerOfTwoChoices(),
};

function nodes(n: number, now: number): NodeState[] {
  return Array.from({ length: n }, (_, i) =>
    createNodeState({
      id: `replica-${i + 1}`,
      clusterId: 'bench',
      role: 'replica',
      weight: 1 + (i % 3),
      inFlight: (i * 7) % 5,
      ewmaLatencyMs: 0.5 + ((i * 13) % 10) / 10,
      lastSampleAt: now - (i % 4),
      healthScore: 90 + (i % 11),
      lagBytes: (i % 5) * 1000,
      lagMs: i % 7,
    }),
  );
}

let sink = 0;

// Like the router: the clock is read per query, and nodes in use are sampled
// continuously (here every 1024 picks), except replica-1, which stays stale so
// the decay path (Math.exp) of response_time / health_aware is exercised too.
function run(b: Balancer, c: readonly NodeState[], ctx: PickContext, picks: number): void {
  let acc = 0;
  for (let k = 0; k < picks; k++) {
    if ((k & 1023) === 0) {
      const now = performance.now();
      ctx.now = now;
      for (let i = 1; i < c.length; i++) c[i]!.lastSampleAt = now;
    }
    acc += b.pick(c, ctx)!.weight;
  }
  sink += acc;
}

// CPU time of this process (user + system), not wall-clock: on a shared,
// loaded machine the wall clock also counts the time we were descheduled.
function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

function nsPerPick(b: Balancer, c: readonly NodeState[], ctx: PickContext): { cpu: number; wall: number } {
  const picks = picksFor(c.length);
  const c0 = cpuNs();
  const t0 = process.hrtime.bigint();
  run(b, c, ctx, picks);
  const wall = Number(process.hrtime.bigint() - t0) / picks;
  return { cpu: (cpuNs() - c0) / picks, wall };
}

function bytesPerPick(b: Balancer, c: readonly NodeState[], ctx: PickContext): number {
  const picks = 200_000;
  gc();
  const h0 = process.memoryUsage().heapUsed;
  run(b, c, ctx, picks);
  const h1 = process.memoryUsage().heapUsed;
  return Math.max(0, (h1 - h0) / picks);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

const setups = SIZES.map((n) => {
  const now = performance.now();
  const ctx: PickContext = { clusterId: 'bench', now };
  const list = nodes(n, now);
  const instances = Object.fromEntries(Object.entries(strategies).map(([name, f]) => [name, f()]));
  return { n, ctx, list, instances };
});

// Warm up (JIT, and the shared call site sees every strategy, as the router's would).
for (const s of setups) for (const b of Object.values(s.instances)) run(b, s.list, s.ctx, 200_000);

const cpuSamples: Record<string, Record<number, number[]>> = {};
const wallSamples: Record<string, Record<number, number[]>> = {};
for (let r = 0; r < ROUNDS; r++) {
  for (const s of setups) {
    for (const [name, b] of Object.entries(s.instances)) {
      const m = nsPerPick(b, s.list, s.ctx);
      ((cpuSamples[name] ??= {})[s.n] ??= []).push(m.cpu);
      ((wallSamples[name] ??= {})[s.n] ??= []).push(m.wall);
    }
  }
}

const round1 = (x: number) => Math.round(x * 10) / 10;
const ns: Record<string, Record<number, number>> = {};
const wallNs: Record<string, Record<number, number>> = {};
const alloc: Record<string, number> = {};
const at8 = setups.find((s) => s.n === 8)!;
for (const name of Object.keys(strategies)) {
  ns[name] = Object.fromEntries(SIZES.map((n) => [n, round1(median(cpuSamples[name]![n]!))]));
  wallNs[name] = Object.fromEntries(SIZES.map((n) => [n, round1(median(wallSamples[name]![n]!))]));
  alloc[name] = Math.round(bytesPerPick(at8.instances[name]!, at8.list, at8.ctx) * 100) / 100;
}

const pad = (s: string, w: number) => s.padEnd(w);
console.log(
  `${pad('strategy (cpu ns/pick)', 24)}${SIZES.map((n) => pad(`n=${n}`, 10)).join('')}${SIZES.map((n) => pad(`wall n=${n}`, 13)).join('')}bytes/pick@8`,
);
for (const name of Object.keys(strategies)) {
  console.log(
    `${pad(name, 24)}${SIZES.map((n) => pad(String(ns[name]![n]), 10)).join('')}${SIZES.map((n) => pad(String(wallNs[name]![n]), 13)).join('')}${alloc[name]}`,
  );
}

const builtins = Object.keys(strategies).filter((n) => n !== 'array_index');
const worstAt8 = Math.max(...builtins.map((n) => ns[n]![8]!));
const baseAt8 = ns.array_index![8]!;
console.log(
  JSON.stringify({
    bench: 'balancer',
    node: process.version,
    picksPerRound: { 2: picksFor(2), 8: picksFor(8), 64: picksFor(64) },
    rounds: ROUNDS,
    nsPerPick: ns,
    wallNsPerPick: wallNs,
    loadAverage: Math.round(loadavg()[0]! * 10) / 10,
    cpus: cpus().length,
    bytesPerPickAt8: alloc,
    worstNsAt8: worstAt8,
    targetNsAt8: 100,
    targetMet: worstAt8 < 100,
    ratio: Math.round((worstAt8 / baseAt8) * 100) / 100,
    sink: sink > 0,
  }),
);
