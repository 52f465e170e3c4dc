import type { MigrationExecutionOptions } from '@pg-multiverse/migrate';
import type { CommandContext, CommandOutcome } from '../context.js';
import { usageError } from '../errors.js';
import { targetFilter } from '../manager.js';
import { intFlag, stringFlag } from '../parse-args.js';
import { runAndReport } from './run-report.js';

/** `pgm migrate`: apply pending migrations. Exit 1 when a step failed. */
export async function migrateCommand(ctx: CommandContext): Promise<CommandOutcome> {
  const { flags, positionals } = ctx.args;
  if (positionals.length) throw usageError(`Unexpected argument "${positionals[0]}" for "pgm migrate".`);
  const maxParallel = intFlag(flags, 'max-parallel');
  const options: MigrationExecutionOptions = {
    ...targetFilter(ctx),
    dryRun: flags['dry-run'] === true,
    parallel: flags.parallel === true || maxParallel !== undefined,
    continueOnError: flags['continue-on-error'] === true,
  };
  const target = stringFlag(flags, 'target');
  if (target !== undefined) options.targetVersion = target;
  if (maxParallel !== undefined) options.maxParallel = maxParallel;

  return runAndReport(ctx, (mm) => mm.migrate(options));
}
