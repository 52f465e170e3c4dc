import { isPgmError, redactSecrets } from '@pg-multiverse/core';
import {
  type LockEvent,
  locationOf,
  type MigrationEvent,
  type MigrationManager,
  type MigrationRunResult,
  type MigrationStepResult,
  type PlanEvent,
} from '@pg-multiverse/migrate';
import type { CommandContext, CommandOutcome } from '../context.js';
import { codeOf } from '../errors.js';
import { openManager } from '../manager.js';
import { formatDuration, plural } from '../output/format.js';

/** Print a line per step as the engine reports it (terminal or --verbose). Returns the unsubscribe. */
export function followProgress(ctx: CommandContext, mm: MigrationManager): () => void {
  const { c } = ctx;
  // The plan arrives before the first step: pad versions and targets so the columns line up.
  let vw = 0;
  let tw = 0;
  const onPlan = (p: PlanEvent) => {
    vw = Math.max(0, ...p.steps.map((s) => s.version.length));
    tw = Math.max(0, ...p.steps.map((s) => s.schema.length + locationOf(s).length + 1));
  };
  const v = (version: string) => version.padEnd(vw);
  const where = (e: LockEvent | MigrationEvent) => c.dim(`${e.schema}@${locationOf(e)}`.padEnd(tw));
  const onStart = (e: MigrationEvent) => {
    if (ctx.verbose)
      ctx.step(
        `  ${c.cyan('→')} ${e.direction === 'down' ? 'rolling back' : 'applying'} ${v(e.version)}  ${c.dim(`${e.schema}@${locationOf(e)}`)}`,
      );
  };
  const onDone = (e: MigrationEvent & { duration: number }) => {
    const mark = e.direction === 'down' ? c.yellow('↩') : c.green('✔');
    ctx.step(`  ${mark} ${v(e.version)}  ${where(e)}  ${c.dim(formatDuration(e.duration))}`);
  };
  const onFail = (e: MigrationEvent & { duration: number; error: Error }) => {
    ctx.step(
      `  ${c.red('✖')} ${v(e.version)}  ${where(e)}  ${c.dim(formatDuration(e.duration))}  ${c.red(firstLine(e.error))}`,
    );
  };
  const onWait = (e: LockEvent) => {
    ctx.step(`  ${c.yellow('…')} waiting for the lock on ${where(e)}${e.holder ? ` (held by ${e.holder})` : ''}`);
  };
  mm.on('plan', onPlan);
  mm.on('migrationStarted', onStart);
  mm.on('migrationCompleted', onDone);
  mm.on('migrationFailed', onFail);
  mm.on('lockWaiting', onWait);
  return () => {
    mm.off('plan', onPlan);
    mm.off('migrationStarted', onStart);
    mm.off('migrationCompleted', onDone);
    mm.off('migrationFailed', onFail);
    mm.off('lockWaiting', onWait);
  };
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0] ?? msg;
}

/** The run result the engine attached to its error, if any. */
export function resultOf(err: unknown): MigrationRunResult | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const candidates = [(err as { result?: unknown }).result, isPgmError(err) ? err.details?.result : undefined];
  for (const r of candidates) {
    if (r && typeof r === 'object' && Array.isArray((r as MigrationRunResult).steps)) return r as MigrationRunResult;
  }
  return undefined;
}

export function stepJson(s: MigrationStepResult, secrets: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {
    version: s.version,
    name: s.name,
    cluster: s.cluster,
    ...(s.shard !== undefined ? { shard: s.shard } : {}),
    schema: s.schema,
    direction: s.direction,
    status: s.status,
    durationMs: Math.round(s.durationMs),
  };
  if (s.reason) out.reason = redactSecrets(s.reason, secrets);
  if (s.error) out.error = { code: codeOf(s.error), message: redactSecrets(s.error.message, secrets) };
  return out;
}

export function resultJson(r: MigrationRunResult, secrets: string[]): Record<string, unknown> {
  return {
    direction: r.direction,
    dryRun: r.dryRun,
    applied: r.applied,
    rolledBack: r.rolledBack,
    failed: r.failed,
    skipped: r.skipped,
    durationMs: Math.round(r.durationMs),
    steps: r.steps.map((s) => stepJson(s, secrets)),
  };
}

/** Dry run: the plan, always printed (it is the answer). */
export function printPlan(ctx: CommandContext, r: MigrationRunResult): void {
  const { c } = ctx;
  const planned = r.steps.filter((s) => s.status === 'planned');
  if (planned.length === 0) return;
  ctx.print(c.bold(`Plan (dry run, nothing changed):`));
  const vw = Math.max(...planned.map((s) => s.version.length));
  for (const s of planned) {
    ctx.print(
      `  ${c.cyan('•')} ${r.direction === 'down' ? 'roll back' : 'apply'} ${s.version.padEnd(vw)}  ${c.dim(`${s.schema}@${locationOf(s)}`)}`,
    );
  }
}

/** Failed steps and their errors, to stderr (always, also when piped). */
export function printFailures(ctx: CommandContext, r: MigrationRunResult): void {
  const { c } = ctx;
  for (const s of r.steps) {
    if (s.status !== 'failed') continue;
    const msg = s.error ? s.error.message : 'failed';
    ctx.warn(`${c.red('✖')} ${s.version} on ${s.schema}@${locationOf(s)}: ${msg}`);
  }
}

/** One summary line. */
export function summary(ctx: CommandContext, r: MigrationRunResult): string {
  const { c } = ctx;
  const doneStatus = r.direction === 'up' ? 'applied' : 'rolledBack';
  const targetsOf = (status: string) =>
    new Set(r.steps.filter((s) => s.status === status).map((s) => `${locationOf(s)}/${s.schema}`)).size;
  const took = c.dim(`in ${formatDuration(r.durationMs)}`);
  const done = r.direction === 'up' ? r.applied : r.rolledBack;
  const verb = r.direction === 'up' ? 'Applied' : 'Rolled back';
  const parts: string[] = [];
  if (r.dryRun) {
    const planned = r.steps.filter((s) => s.status === 'planned').length;
    if (planned === 0)
      return r.direction === 'up' ? 'Nothing to migrate: every target is up to date.' : 'Nothing to roll back.';
    return `Dry run: ${plural(planned, 'step')} on ${plural(targetsOf('planned'), 'target')} would ${r.direction === 'up' ? 'be applied' : 'be rolled back'}.`;
  }
  if (r.steps.length === 0 || (done === 0 && r.failed === 0 && r.skipped === 0)) {
    return r.direction === 'up' ? 'Nothing to migrate: every target is up to date.' : 'Nothing to roll back.';
  }
  const versions = new Set(r.steps.filter((s) => s.status === doneStatus).map((s) => s.version)).size;
  const targets = targetsOf(doneStatus);
  parts.push(
    `${verb} ${plural(versions, 'migration')} ${r.direction === 'up' ? 'to' : 'on'} ${plural(targets, 'target')} (${plural(done, 'step')})`,
  );
  if (r.failed) parts.push(c.red(`${r.failed} failed`));
  if (r.skipped) parts.push(c.yellow(`${r.skipped} skipped`));
  return `${r.failed ? c.red('✖') : c.green('✔')} ${parts.join(', ')} ${took}.`;
}

/**
 * Open the manager, run one migrate/rollback call with progress lines, always
 * close, then print the plan (dry run), failures and summary. Exit code 1 when
 * the run failed; an error that is not a step failure is rethrown.
 */
export async function runAndReport(
  ctx: CommandContext,
  run: (mm: MigrationManager) => Promise<MigrationRunResult>,
): Promise<CommandOutcome> {
  const { mm } = await openManager(ctx);
  const stop = followProgress(ctx, mm);
  let result: MigrationRunResult | undefined;
  let failure: unknown;
  try {
    result = await run(mm);
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
