import { PgmError } from '@pg-multiverse/core';
import { versionStamp } from './normalize-migration.js';
import type { LoadedMigration } from './types.js';

/** Find a migration by full version, or by its 14-digit timestamp when that is unambiguous. */
export function findVersion(ref: string, migrations: readonly LoadedMigration[]): LoadedMigration | undefined {
  const exact = migrations.find((m) => m.version === ref);
  if (exact) return exact;
  const byStamp = migrations.filter((m) => versionStamp(m.version) === ref || m.name === ref);
  return byStamp.length === 1 ? byStamp[0] : undefined;
}

/**
 * Order migrations so every dependency comes before its dependents, ties
 * broken by version. Throws `MIGRATION_DEPENDENCY` for an unknown dependency
 * or a cycle (naming the migrations in it) before anything runs.
 */
export function orderMigrations(migrations: readonly LoadedMigration[]): LoadedMigration[] {
  const deps = new Map<string, string[]>();
  for (const m of migrations) {
    const resolved: string[] = [];
    for (const ref of m.dependencies) {
      const d = findVersion(ref, migrations);
      if (!d) {
        throw new PgmError(
          'MIGRATION_DEPENDENCY',
          `Migration ${m.version}${m.file ? ` (${m.file})` : ''} depends on "${ref}", which is not a known migration`,
          { details: { version: m.version, dependency: ref } },
        );
      }
      if (d.version !== m.version) resolved.push(d.version);
      else throw new PgmError('MIGRATION_DEPENDENCY', `Migration ${m.version} depends on itself`);
    }
    deps.set(m.version, resolved);
  }
  const byVersion = new Map(migrations.map((m) => [m.version, m]));
  const indegree = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const [v, ds] of deps) {
    indegree.set(v, ds.length);
    for (const d of ds) dependents.set(d, [...(dependents.get(d) ?? []), v]);
  }
  const ready = [...indegree].filter(([, n]) => n === 0).map(([v]) => v);
  const out: LoadedMigration[] = [];
  while (ready.length > 0) {
    ready.sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
    const v = ready.pop()!;
    out.push(byVersion.get(v)!);
    for (const w of dependents.get(v) ?? []) {
      const n = indegree.get(w)! - 1;
      indegree.set(w, n);
      if (n === 0) ready.push(w);
    }
  }
  if (out.length < migrations.length) {
    const cycle = findCycle(deps, new Set(out.map((m) => m.version)));
    throw new PgmError('MIGRATION_DEPENDENCY', `Dependency cycle between migrations: ${cycle.join(' -> ')}`, {
      details: { cycle },
    });
  }
  return out;
}

function findCycle(deps: Map<string, string[]>, done: Set<string>): string[] {
  const start = [...deps.keys()].find((v) => !done.has(v))!;
  const path: string[] = [];
  const seen = new Map<string, number>();
  let cur = start;
  while (!seen.has(cur)) {
    seen.set(cur, path.length);
    path.push(cur);
    cur = deps.get(cur)!.find((d) => !done.has(d))!;
  }
  return [...path.slice(seen.get(cur)!), cur];
}
