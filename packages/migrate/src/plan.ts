import { MigrationError } from './errors.js';
import { findVersion } from './order.js';
import { type ShardMap, type Target, targetKey, targetOf, targetsOf } from './targets.js';
import type { LoadedMigration, MigrationDirection, TargetFilter } from './types.js';

/** One row of a target's history. */
export interface HistoryRow {
  id: number;
  schema: string;
  version: string;
  name: string;
  checksum: string;
  appliedAt: Date;
  executionMs: number;
  appliedBy: string;
}

/** History per target key, each list in order of application. */
export type Histories = Map<string, HistoryRow[]>;

/** A (migration, target) step with the indexes of the steps that must finish first. */
export interface PlannedStep extends Target {
  index: number;
  version: string;
  name: string;
  direction: MigrationDirection;
  migration: LoadedMigration | undefined;
  prereqs: number[];
  /** Rollback with `force` of a migration without `down`: only its history row goes. */
  forget?: string;
}

interface PlanInput {
  /** Migrations in dependency order. */
  ordered: readonly LoadedMigration[];
  histories: Histories;
  schemaMap: Record<string, string>;
  /** Shard ids of the clusters sharded over listed servers (one target per shard). */
  shards?: ShardMap;
  filter: TargetFilter;
}

const stamp = (v: string) => v.slice(0, 14);

/** `upTo` bound: full version, or a bare 14-digit timestamp compared on timestamps. */
function versionBound(ref: string, migrations: readonly LoadedMigration[]): (v: string) => boolean {
  const m = findVersion(ref, migrations);
  if (m) return (v) => v <= m.version;
  if (/^\d{14}$/.test(ref)) return (v) => stamp(v) <= ref;
  throw new MigrationError('INVALID_ARGUMENT', `Unknown targetVersion "${ref}"`, { version: ref });
}

function fileOf(m: LoadedMigration | undefined, version: string): string {
  return m?.file ?? `migration ${version}`;
}

/** Checksum and out-of-order checks plus the ordered step list of a `migrate()` run. */
export function planUp(
  input: PlanInput & { targetVersion?: string; allowOutOfOrder: boolean; validateChecksums: boolean },
): PlannedStep[] {
  const { ordered, histories, schemaMap, filter } = input;
  const shards = input.shards ?? {};
  const within = input.targetVersion ? versionBound(input.targetVersion, ordered) : () => true;
  const known = new Map(ordered.map((m) => [m.version, m]));
  const appliedOn = (t: Target) => new Map((histories.get(targetKey(t)) ?? []).map((r) => [r.version, r]));
  const appliedCache = new Map<string, Map<string, HistoryRow>>();
  const applied = (t: Target) => {
    const k = targetKey(t);
    let a = appliedCache.get(k);
    if (!a) appliedCache.set(k, (a = appliedOn(t)));
    return a;
  };
  /** The newest version applied on a target ('' for none), once per target. */
  const newestCache = new Map<string, string>();
  const newestOn = (key: string, a: Map<string, HistoryRow>) => {
    let n = newestCache.get(key);
    if (n === undefined) {
      n = '';
      for (const v of a.keys()) if (v > n) n = v;
      newestCache.set(key, n);
    }
    return n;
  };

  if (input.validateChecksums) {
    const selected = new Set<string>();
    for (const m of ordered) for (const t of targetsOf(m, schemaMap, filter, shards)) selected.add(targetKey(t));
    for (const [key, rows] of histories) {
      if (!selected.has(key)) continue;
      for (const r of rows) {
        const m = known.get(r.version);
        if (m && m.checksum !== r.checksum) {
          throw new MigrationError(
            'MIGRATION_CHECKSUM_MISMATCH',
            `${fileOf(m, r.version)} changed after it was applied to ${key} (checksum ${r.checksum.slice(0, 12)}… recorded, ${m.checksum.slice(0, 12)}… now). Restore the file, or accept the change with repairChecksums({ versions: ['${r.version}'] }) (or validateChecksums: false).`,
            {
              version: r.version,
              schema: r.schema,
              details: { target: key, recorded: r.checksum, current: m.checksum },
            },
          );
        }
      }
    }
  }

  const steps: PlannedStep[] = [];
  const stepOf = new Map<string, number>(); // version@targetKey -> index
  const lastOnTarget = new Map<string, number>();
  for (const m of ordered) {
    if (!within(m.version)) continue;
    for (const t of targetsOf(m, schemaMap, filter, shards)) {
      const key = targetKey(t);
      const a = applied(t);
      if (a.has(m.version)) continue;
      if (!input.allowOutOfOrder) {
        const newest = newestOn(key, a);
        if (newest > m.version) {
          throw new MigrationError(
            'MIGRATION_OUT_OF_ORDER',
            `${fileOf(m, m.version)} is pending on ${key} but newer migration ${newest} is already applied there. Give it a newer version, or pass allowOutOfOrder: true.`,
            { version: m.version, schema: t.schema, clusterId: t.cluster },
          );
        }
      }
      const prereqs: number[] = [];
      const prev = lastOnTarget.get(key);
      if (prev !== undefined) prereqs.push(prev);
      for (const ref of m.dependencies) {
        const d = findVersion(ref, ordered)!;
        for (const dt of targetsOf(d, schemaMap, {}, shards)) {
          if (applied(dt).has(d.version)) continue;
          const idx = stepOf.get(`${d.version}@${targetKey(dt)}`);
          if (idx === undefined) {
            throw new MigrationError(
              'MIGRATION_DEPENDENCY',
              `${m.version} on ${key} needs ${d.version} on ${targetKey(dt)}, which is not applied and not part of this run (check targetSchemas/targetClusters/targetVersion)`,
              { version: m.version, schema: t.schema, clusterId: t.cluster, details: { dependency: d.version } },
            );
          }
          if (!prereqs.includes(idx)) prereqs.push(idx);
        }
      }
      const index = steps.length;
      steps.push({ index, ...t, version: m.version, name: m.name, direction: 'up', migration: m, prereqs });
      stepOf.set(`${m.version}@${key}`, index);
      lastOnTarget.set(key, index);
    }
  }
  return steps;
}

/** The ordered step list of a `rollback()` run (reverse order of application per target). */
export function planDown(
  input: PlanInput & { steps?: number; targetVersion?: string; force: boolean; targets: readonly Target[] },
): PlannedStep[] {
  const { ordered, histories, schemaMap } = input;
  const shards = input.shards ?? {};
  const known = new Map(ordered.map((m) => [m.version, m]));
  let undo: (v: string) => boolean = () => true;
  if (input.targetVersion !== undefined) {
    const ref = input.targetVersion;
    const m = findVersion(ref, ordered);
    undo = m ? (v) => v > m.version : /^\d{14}$/.test(ref) ? (v) => stamp(v) > ref : (v) => v > ref;
  }
  const limit = input.targetVersion !== undefined ? (input.steps ?? Number.POSITIVE_INFINITY) : (input.steps ?? 1);
  const rank = new Map(ordered.map((m, i) => [m.version, i]));

  interface Pending extends Target {
    row: HistoryRow;
    m: LoadedMigration | undefined;
  }
  // `steps` counts migrations, not rows: the newest N migrations applied on any selected
  // target are undone on every selected target where they are applied. So
  // `rollback({ steps: 1 })` undoes "the last migration" wherever it ran, and never
  // half of a migration that spans several schemas.
  const newest = new Map<string, number>();
  for (const t of input.targets) {
    for (const r of histories.get(targetKey(t)) ?? []) {
      if (!undo(r.version)) continue;
      newest.set(r.version, Math.max(newest.get(r.version) ?? 0, r.appliedAt.getTime()));
    }
  }
  const picked = new Set(
    [...newest.keys()]
      .sort(
        (a, b) => (rank.get(b) ?? -1) - (rank.get(a) ?? -1) || newest.get(b)! - newest.get(a)! || b.localeCompare(a),
      )
      .slice(0, limit),
  );
  const chosen: Pending[][] = [];
  for (const t of input.targets) {
    const rows = [...(histories.get(targetKey(t)) ?? [])].reverse().filter((r) => picked.has(r.version));
    chosen.push(rows.map((row) => ({ ...t, row, m: known.get(row.version) })));
  }

  // Steps in global reverse dependency order; per target, reverse application order via prereqs.
  const flat = chosen.flat().sort((a, b) => {
    const ra = rank.get(a.row.version) ?? -1;
    const rb = rank.get(b.row.version) ?? -1;
    return rb - ra || b.row.id - a.row.id || targetKey(a).localeCompare(targetKey(b));
  });
  const steps: PlannedStep[] = [];
  const indexOf = new Map<string, number>();
  for (const p of flat) {
    const key = targetKey(p);
    let forget: string | undefined;
    if (!p.m?.down) {
      const why = p.m
        ? `${fileOf(p.m, p.row.version)} has no down()`
        : `${p.row.version} is not among the loaded migrations`;
      if (!input.force) {
        throw new MigrationError(
          'MIGRATION_NOT_REVERSIBLE',
          `Cannot roll back ${p.row.version} on ${key}: ${why}. Pass force: true to remove its history row without running anything.`,
          { version: p.row.version, schema: p.schema, clusterId: p.cluster },
        );
      }
      forget = `${why}; history row removed (force)`;
    }
    const index = steps.length;
    indexOf.set(`${p.row.version}@${key}`, index);
    steps.push({
      index,
      ...targetOf(p),
      version: p.row.version,
      name: p.m?.name ?? p.row.name,
      direction: 'down',
      migration: p.m,
      prereqs: [],
      ...(forget ? { forget } : {}),
    });
  }
  // Same target: later-applied first. Dependencies: dependents (anywhere) first.
  for (const list of chosen) {
    for (let i = 1; i < list.length; i++) {
      const prev = indexOf.get(`${list[i - 1]!.row.version}@${targetKey(list[i - 1]!)}`)!;
      steps[indexOf.get(`${list[i]!.row.version}@${targetKey(list[i]!)}`)!]!.prereqs.push(prev);
    }
  }
  for (const m of ordered) {
    for (const ref of m.dependencies) {
      const d = findVersion(ref, ordered);
      if (!d) continue;
      for (const dt of targetsOf(d, schemaMap, {}, shards)) {
        const di = indexOf.get(`${d.version}@${targetKey(dt)}`);
        if (di === undefined) continue;
        for (const mt of targetsOf(m, schemaMap, {}, shards)) {
          const mk = `${m.version}@${targetKey(mt)}`;
          const stillApplied = (histories.get(targetKey(mt)) ?? []).some((r) => r.version === m.version);
          if (!stillApplied) continue;
          const mi = indexOf.get(mk);
          if (mi === undefined) {
            if (input.force) continue;
            throw new MigrationError(
              'MIGRATION_DEPENDENCY',
              `Cannot roll back ${d.version} on ${targetKey(dt)}: ${m.version} depends on it and stays applied on ${targetKey(mt)}. Roll that back first, or pass force: true.`,
              { version: d.version, schema: dt.schema, clusterId: dt.cluster },
            );
          }
          if (!steps[di]!.prereqs.includes(mi)) steps[di]!.prereqs.push(mi);
        }
      }
    }
  }
  return steps;
}
