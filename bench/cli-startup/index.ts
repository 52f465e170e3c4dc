// Start-up time of `pgm --help` (pg-multiverse's binary, built) against bare `node -e 0`:
// the help must not load pg or jiti, so it should cost little more than starting node.
// Interleaved rounds (node, help, node, help, ...) so drift in machine load hits both alike;
// medians, the ratio of medians, and the spread (p10..p90) of each are reported.
// Target (issue 15): ratio < 1.5.
//   pnpm build && node --import tsx bench/cli-startup/index.ts
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROUNDS = Number(process.env.ROUNDS ?? 40);
const bin = fileURLToPath(new URL('../../packages/pg-multiverse/dist/bin.js', import.meta.url));
if (!existsSync(bin)) throw new Error(`${bin} is missing: run pnpm build first`);

function time(args: string[]): number {
  const t = performance.now();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const q = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0;
};
const r1 = (x: number) => Math.round(x * 10) / 10;

// Warm the file cache once for each.
time(['-e', '0']);
time([bin, '--help']);
const node: number[] = [];
const help: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  node.push(time(['-e', '0']));
  help.push(time([bin, '--help']));
}
const nodeMedian = q(node, 0.5);
const helpMedian = q(help, 0.5);
const ratio = helpMedian / nodeMedian;
console.log(`node -e 0:   median ${r1(nodeMedian)} ms (p10 ${r1(q(node, 0.1))}, p90 ${r1(q(node, 0.9))})`);
console.log(`pgm --help:  median ${r1(helpMedian)} ms (p10 ${r1(q(help, 0.1))}, p90 ${r1(q(help, 0.9))})`);
console.log(`ratio ${ratio.toFixed(2)} (target < 1.5)`);
console.log(
  JSON.stringify({
    bench: 'cli-startup',
    rounds: ROUNDS,
    node_median_ms: r1(nodeMedian),
    node_p10_ms: r1(q(node, 0.1)),
    node_p90_ms: r1(q(node, 0.9)),
    help_median_ms: r1(helpMedian),
    help_p10_ms: r1(q(help, 0.1)),
    help_p90_ms: r1(q(help, 0.9)),
    ratio: Math.round(ratio * 100) / 100,
    target_ratio: 1.5,
    ok: ratio < 1.5,
  }),
);
