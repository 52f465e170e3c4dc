import { locationOf, type MigrationStatus, type TargetStatus } from '@pg-multiverse/migrate';
import type { CommandContext, CommandOutcome } from '../context.js';
import { usageError } from '../errors.js';
import { openManager, targetFilter } from '../manager.js';
import { plural } from '../output/format.js';
import { renderTable } from '../output/table.js';

function byClusterThenSchema(a: TargetStatus, b: TargetStatus): number {
  return locationOf(a).localeCompare(locationOf(b)) || a.schema.localeCompare(b.schema);
}

/** `pgm status`: applied and pending migrations per (cluster, schema). */
export async function statusCommand(ctx: CommandContext): Promise<CommandOutcome> {
  if (ctx.args.positionals.length)
    throw usageError(`Unexpected argument "${ctx.args.positionals[0]}" for "pgm status".`);
  const { mm } = await openManager(ctx);
  let status: MigrationStatus;
  try {
    status = await mm.getStatus(targetFilter(ctx));
  } finally {
    await mm.close().catch(() => {});
  }
  const { c } = ctx;
  const targets = [...status.targets].sort(byClusterThenSchema);
  const rows = targets.map((t) => [
    locationOf(t),
    t.schema,
    String(t.applied),
    t.pending ? c.yellow(String(t.pending)) : c.green('0'),
    t.lastApplied ?? c.dim('-'),
    ...(ctx.verbose
      ? [t.lastAppliedAt ? t.lastAppliedAt.toISOString().replace('T', ' ').slice(0, 19) : c.dim('-')]
      : []),
  ]);
  const header = [
    'Cluster',
    'Schema',
    'Applied',
    'Pending',
    'Last applied',
    ...(ctx.verbose ? ['Applied at (UTC)'] : []),
  ];
  if (rows.length) ctx.print(renderTable(header, rows, { alignRight: [2, 3], header: c.bold }));
  else ctx.print('No targets: no schema matches the filter.');

  if (ctx.verbose) {
    for (const t of targets) {
      const lines: string[] = [];
      for (const v of t.pendingVersions) lines.push(`    ${c.yellow('pending')}   ${v}`);
      for (const v of t.unknownVersions)
        lines.push(`    ${c.red('unknown')}   ${v} ${c.dim('(applied, file missing)')}`);
      for (const v of t.checksumMismatches)
        lines.push(`    ${c.red('changed')}   ${v} ${c.dim('(file changed since applied)')}`);
      if (t.lockedBy)
        lines.push(`    ${c.yellow('locked')}    by ${t.lockedBy.holder} since ${t.lockedBy.since.toISOString()}`);
      if (lines.length) ctx.print(`\n  ${c.bold(`${t.schema}@${locationOf(t)}`)}\n${lines.join('\n')}`);
    }
  }
  const mismatches = targets.reduce((n, t) => n + t.checksumMismatches.length, 0);
  if (mismatches) {
    ctx.warn(
      c.yellow(
        `! ${plural(mismatches, 'applied migration')} changed since applied (run "pgm status --verbose" to see which).`,
      ),
    );
  }
  ctx.print(
    `\n${plural(status.migrations, 'migration')}, ${plural(targets.length, 'target')}: ${status.appliedMigrations} applied, ${
      status.pendingMigrations ? c.yellow(`${status.pendingMigrations} pending`) : c.green('0 pending')
    }.`,
  );
  return { exitCode: 0, json: { ...status, targets } };
}
