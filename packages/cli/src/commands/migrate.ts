import type { MigrationExecutionOptions, MigrationRunResult } from '@pg-multiverse/migrate';
import type { CommandContext, CommandOutcome } from '../context.js';
import { usageError } from '../errors.js';
import { openManager, targetFilter } from '../manager.js';
import { intFlag, stringFlag } from '../parse-args.js';
import { followProgress, printFailures, printPlan, resultJson, resultOf, summary } from './run-report.js';

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

  const { mm } = await openManager(ctx);
  const stop = followProgress(ctx, mm);
  let result: MigrationRunResult | undefined;
  let failure: unknown;
  try {
    result = await mm.migrate(options);
  } catch (err) {
    failure = err;
    result = resultOf(err);
  } finally {
    stop();
    await mm.close().catch(() => {});
  }
  if (!result) throw failure;
  if (result.dryRun) printPlan(ctx, result);
  printFailures(ctx, result);
  ctx.print(summary(ctx, result));
  const failed = failure !== undefined || result.failed > 0;
  if (failure && result.failed === 0) throw failure;
  return { exitCode: failed ? 1 : 0, json: resultJson(result, ctx.secrets) };
}
