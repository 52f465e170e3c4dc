// Closed-loop load shared by the throughput benchmarks: `concurrency` workers run
// `op` back to back for `roundMs`; per-round qps and latency percentiles.

export interface Figures {
  qps: number;
  p50: number;
  p99: number;
}

export async function measure(
  op: (i: number) => Promise<unknown>,
  { concurrency, roundMs }: { concurrency: number; roundMs: number },
): Promise<Figures> {
  const lat: number[] = [];
  const end = performance.now() + roundMs;
  let n = 0;
  const worker = async () => {
    while (performance.now() < end) {
      const i = n++;
      const t = performance.now();
      await op(i);
      lat.push(performance.now() - t);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? 0;
  return { qps: lat.length / secs, p50: q(0.5), p99: q(0.99) };
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
