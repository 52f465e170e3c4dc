import { locationOf } from '@pg-multiverse/core';
import type { MigrationDirection } from './types.js';

interface PlanLine {
  version: string;
  name: string;
  cluster: string;
  shard?: string;
  schema: string;
}

/** A printable plan: one line per (migration, target) step, in order. */
export function formatPlan(direction: MigrationDirection, steps: readonly PlanLine[], dryRun = false): string {
  const verb = direction === 'up' ? 'apply' : 'roll back';
  const head = `${dryRun ? 'Dry run: would' : 'Plan:'} ${verb} ${steps.length} step${steps.length === 1 ? '' : 's'}`;
  const width = String(steps.length).length;
  return [
    head,
    ...steps.map(
      (s, i) => `  ${String(i + 1).padStart(width)}. ${s.version} (${s.name}) -> ${s.schema}@${locationOf(s)}`,
    ),
  ].join('\n');
}
