import type { MigrationRollbackOptions } from '@pg-multiverse/migrate';
import type { CommandContext, CommandOutcome } from '../context.js';
import { usageError } from '../errors.js';
import { targetFilter } from '../manager.js';
import { intFlag, stringFlag } from '../parse-args.js';
import { runAndReport } from './run-report.js';

/** `pgm rollback`: undo the last migration (or --steps N, or down to --target V). */
export async function rollbackCommand(ctx: CommandContext): Promise<CommandOutcome> {
  const { flags, positionals } = ctx.args;
  if (positionals.length) throw usageError(`Unexpected argument "${positionals[0]}" for "pgm rollback".`);
  const steps = intFlag(flags, 'steps');
  const target = stringFlag(flags, 'target');
  if (steps !== undefined && target !== undefined) {
    throw usageError('Give either --steps N or --target V, not both.');
  }
  const options: MigrationRollbackOptions = {
    ...targetFilter(ctx),
    dryRun: flags['dry-run'] === true,
    force: flags.force === true,
  };
  if (target !== undefined) options.targetVersion = target;
  else options.steps = steps ?? 1;

  return runAndReport(ctx, (mm) => mm.rollback(options));
}
