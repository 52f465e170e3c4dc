import type { MigrationRollbackOptions, MigrationRunResult } from '@pg-multiverse/migrate';
import type { CommandContext, CommandOutcome } from '../context.js';
import { usageError } from '../errors.js';
import { openManager, targetFilter } from '../manager.js';
import { intFlag, stringFlag } from '../parse-args.js';
import { followProgress, printFailures, printPlan, resultJson, resultOf, summary } from './run-report.js';

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

  const { mm } = await openManager(ctx);
  const stop = followProgress(ctx, mm);
  let result: MigrationRunResult | undefined;
  let failure: unknown;
  try {
    result = await mm.rollback(options);
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
  if (failure && result.failed === 0) throw failure;
  return { exitCode: failure !== undefined || result.failed > 0 ? 1 : 0, json: resultJson(result, ctx.secrets) };
}
