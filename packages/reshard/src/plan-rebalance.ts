import { PgmError } from '@pg-multiverse/core';

/** One step of a rebalance: these partitions go from one shard to another. */
export interface PlannedMove {
  from: string;
  to: string;
  partitions: number[];
}

export interface RebalancePlan {
  cluster: string;
  mapVersion: number;
  servers: string[];
  /** Partitions per server before and after. */
  before: Record<string, number>;
  after: Record<string, number>;
  moves: PlannedMove[];
}

/**
 * The fewest partition moves that spread `owners` evenly over `servers`: each listed server ends
 * with `floor(n / servers)` or one more partitions; servers not listed give all theirs away.
 * Partitions leave the fullest servers first (highest partition numbers first, so a plan is
 * stable for the same input) and go to the emptiest. Pure: no I/O.
 */
export function planRebalance(input: {
  cluster: string;
  mapVersion: number;
  owners: readonly string[];
  servers: readonly string[];
}): RebalancePlan {
  const { cluster, owners } = input;
  const servers = [...new Set(input.servers)];
  if (servers.length === 0) {
    throw new PgmError('INVALID_ARGUMENT', `rebalance of "${cluster}": list at least one server in { servers }`, {
      clusterId: cluster,
    });
  }
  const held = new Map<string, number[]>();
  for (const s of servers) held.set(s, []);
  owners.forEach((owner, p) => {
    const list = held.get(owner) ?? [];
    list.push(p);
    held.set(owner, list);
  });
  const before: Record<string, number> = {};
  for (const [s, list] of held) before[s] = list.length;

  const n = owners.length;
  const base = Math.floor(n / servers.length);
  let extra = n % servers.length;
  // Who keeps one extra partition: the listed servers that hold the most already (fewest moves).
  const quota = new Map<string, number>();
  for (const s of [...servers].sort((a, b) => held.get(b)!.length - held.get(a)!.length || a.localeCompare(b))) {
    quota.set(s, base + (extra > 0 ? 1 : 0));
    if (extra > 0) extra--;
  }
  const giving: number[] = [];
  for (const [s, list] of held) {
    const keep = quota.get(s) ?? 0;
    const sorted = [...list].sort((a, b) => a - b);
    while (sorted.length > keep) giving.push(sorted.pop()!);
    held.set(s, sorted);
  }
  const pairs = new Map<string, PlannedMove>();
  const fromOf = (p: number) => owners[p]!;
  for (const p of giving.sort((a, b) => a - b)) {
    const to = servers
      .filter((s) => held.get(s)!.length < quota.get(s)!)
      .sort((a, b) => held.get(a)!.length - held.get(b)!.length || a.localeCompare(b))[0]!;
    held.get(to)!.push(p);
    const key = `${fromOf(p)}->${to}`;
    const m = pairs.get(key) ?? { from: fromOf(p), to, partitions: [] };
    m.partitions.push(p);
    pairs.set(key, m);
  }
  const after: Record<string, number> = {};
  for (const [s, list] of held) after[s] = list.length;
  return { cluster, mapVersion: input.mapVersion, servers, before, after, moves: [...pairs.values()] };
}

/** The plan as lines for a terminal (the dry run's output). */
export function formatRebalancePlan(plan: RebalancePlan): string {
  const lines = [`Rebalance of ${plan.cluster} (map version ${plan.mapVersion}) over ${plan.servers.join(', ')}:`];
  for (const s of Object.keys(plan.before)) lines.push(`  ${s}: ${plan.before[s]} -> ${plan.after[s] ?? 0} partitions`);
  if (plan.moves.length === 0) lines.push('  already balanced: nothing to move');
  for (const m of plan.moves) lines.push(`  move ${m.partitions.join(',')} from ${m.from} to ${m.to}`);
  return lines.join('\n');
}
