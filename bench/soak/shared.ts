// Pieces the soak (index.ts) and its coordinator child (child.ts) share.

/** Cluster A (2 replicas) is the first in the configuration, so it stores the commit decisions. */
export const CLUSTER_A = 'alpha';
export const CLUSTER_B = 'beta';
export const LEDGER_A = 'ledger_a';
export const LEDGER_B = 'ledger_b';
export const KV_A = 'kv_a';
export const KV_B = 'kv_b';

/** One side of a transfer: move `$2` on account `$1` and write ledger row `$3` in the same statement. */
export const MOVE_SQL =
  'WITH u AS (UPDATE accounts SET balance = balance + $2 WHERE id = $1 RETURNING id) ' +
  'INSERT INTO transfers (transfer_id, account, delta) SELECT $3, id, $2 FROM u';

/** Transactions of the soak: bounded, so a lock held by a crashed coordinator cannot stall a worker forever. */
export const TX_TIMEOUT_MS = 10_000;

/** Where the child stops, mid-commit, before its parent SIGKILLs it. */
export type CrashPlan =
  /** B's PREPARE went through (A's was sent alongside), no decision yet: recovery rolls back after safeAgeMs. */
  | 'after-prepare'
  /** The commit decision is durable on A, no COMMIT PREPARED yet: recovery commits both. */
  | 'after-decision'
  /** A's COMMIT PREPARED went through, B's never sent: half-visible until recovery commits B. */
  | 'between-commits';

export const CRASH_PLANS: readonly CrashPlan[] = ['after-prepare', 'after-decision', 'between-commits'];

export interface ChildSpec {
  /** `topo.config` of the soak's topology. */
  config: Record<string, { schemas: string[]; primary: NodeConn; replicas: NodeConn[] }>;
  /** Transfer ids of this child start with this. */
  prefix: string;
  plan: CrashPlan;
  /** Transfers that run to completion before the stall is armed. */
  armAfter: number;
  accounts: number;
  seed: number;
  safeAgeMs: number;
}

export interface NodeConn {
  id?: string;
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
}

/** Seeded PRNG (mulberry32): the same seed gives the same fault schedule and workload choices. */
export interface Rng {
  next(): number;
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

export function rng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (items) => items[Math.floor(next() * items.length)]!,
    chance: (p) => next() < p,
  };
}

/** A short, stable label for an error: the PgmError code, plus the SQLSTATE or errno of its cause. */
export function errorCode(err: unknown): string {
  const e = err as { code?: unknown; name?: unknown; cause?: { code?: unknown } } | undefined;
  const code = typeof e?.code === 'string' ? e.code : typeof e?.name === 'string' ? e.name : 'unknown';
  const cause = typeof e?.cause?.code === 'string' ? e.cause.code : undefined;
  return cause && cause !== code ? `${code}/${cause}` : code;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
