import type { PlannedStep } from './plan.js';
import { type Target, targetKey, targetOf } from './targets.js';

/**
 * Split a plan's targets into waves of at most `batchSize` targets, in order
 * of their first step. A wave grows past `batchSize` when one of its steps
 * depends on a step of a later wave (the two waves merge).
 */
export function makeWaves(steps: readonly PlannedStep[], batchSize: number): Target[][] {
  const targets: Target[] = [];
  const wave = new Map<string, number>();
  for (const s of steps) {
    const k = targetKey(s);
    if (wave.has(k)) continue;
    wave.set(k, Math.floor(targets.length / Math.max(1, batchSize)));
    targets.push(targetOf(s));
  }
  const byIndex = new Map(steps.map((s) => [s.index, s]));
  for (let changed = true; changed; ) {
    changed = false;
    for (const s of steps) {
      const w = wave.get(targetKey(s))!;
      for (const p of s.prereqs) {
        const ps = byIndex.get(p);
        if (!ps) continue;
        const wp = wave.get(targetKey(ps))!;
        if (wp > w) {
          for (const [k, v] of wave) if (v > w && v <= wp) wave.set(k, w);
          changed = true;
        }
      }
    }
  }
  const groups = new Map<number, Target[]>();
  for (const t of targets) {
    const w = wave.get(targetKey(t))!;
    groups.set(w, [...(groups.get(w) ?? []), t]);
  }
  return [...groups.keys()].sort((a, b) => a - b).map((w) => groups.get(w)!);
}
