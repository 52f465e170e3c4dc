// Closed-loop load shared by the throughput benchmarks: `concurrency` workers run
// `op` back to back for `roundMs`; per-round qps and latency percentiles. `op` gets the
// operation's number and its worker's (0 .. concurrency-1).

export interface Figures {
  /** Operations completed in the round. */
  ops: number;
  qps: number;
  p50: number;
  p99: number;
}

export async function measure(
  op: (i: number, worker: number) => Promise<unknown>,
  { concurrency, roundMs }: { concurrency: number; roundMs: number },
): Promise<Figures> {
  const lat: number[] = [];
  const end = performance.now() + roundMs;
  let n = 0;
  const worker = async (w: number) => {
    while (performance.now() < end) {
      const i = n++;
      const t = performance.now();
      await op(i, w);
      lat.push(performance.now() - t);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? 0;
  return { ops: lat.length, qps: lat.length / secs, p50: q(0.5), p99: q(0.99) };
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
};

export const round2 = (x: number): number => Math.round(x * 100) / 100;

/** Medians over rounds. */
export function summarize(runs: readonly Figures[]) {
  return {
    qps: Math.round(median(runs.map((r) => r.qps))),
    p50_ms: round2(median(runs.map((r) => r.p50))),
    p99_ms: round2(median(runs.map((r) => r.p99))),
  };
}

/** One round of `measure` plus this process's CPU time per operation (µs): all, user, system. */
export interface CpuFigures extends Figures {
  cpuUsPerOp: number;
  userUsPerOp: number;
  sysUsPerOp: number;
}

export async function measureWithCpu(
  op: (i: number, worker: number) => Promise<unknown>,
  opts: { concurrency: number; roundMs: number },
): Promise<CpuFigures> {
  const c0 = process.cpuUsage();
  const f = await measure(op, opts);
  const c = process.cpuUsage(c0);
  const ops = Math.max(1, f.ops);
  return { ...f, cpuUsPerOp: (c.user + c.system) / ops, userUsPerOp: c.user / ops, sysUsPerOp: c.system / ops };
}

/**
 * `pairs` short rounds of `a` and `b` back to back, the order swapped every
 * pair (a b, b a, ...) so a drift of the shared machine hits both sides alike;
 * per-pair ratios b/a. Short adjacent rounds pair up better than long ones on a
 * noisy machine; quote the median of the pair ratios.
 */
export async function paired(
  a: (i: number, worker: number) => Promise<unknown>,
  b: (i: number, worker: number) => Promise<unknown>,
  opts: { concurrency: number; roundMs: number; pairs: number },
): Promise<{ a: CpuFigures[]; b: CpuFigures[]; ratios: number[]; cpuRatios: number[] }> {
  const out = { a: [] as CpuFigures[], b: [] as CpuFigures[], ratios: [] as number[], cpuRatios: [] as number[] };
  for (let p = 0; p < opts.pairs; p++) {
    let fa: CpuFigures;
    let fb: CpuFigures;
    if (p % 2 === 0) {
      fa = await measureWithCpu(a, opts);
      fb = await measureWithCpu(b, opts);
    } else {
      fb = await measureWithCpu(b, opts);
      fa = await measureWithCpu(a, opts);
    }
    out.a.push(fa);
    out.b.push(fb);
    out.ratios.push(fb.qps / fa.qps);
    out.cpuRatios.push(fb.cpuUsPerOp / fa.cpuUsPerOp);
  }
  return out;
}
