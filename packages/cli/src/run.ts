import { describeNode, isPgmError, redactSecrets } from '@pg-multiverse/core';
import type { LoadedConfig } from './config/load-config.js';
import { type CommandContext, type CommandOutcome, createContext } from './context.js';
import { codeOf, exitCodeOf, usageError } from './errors.js';
import { commandHelp, globalHelp } from './help.js';
import { type CliIo, resolveIo } from './io.js';
import { chooseColors } from './output/colors.js';
import { type ParsedArgs, parseArgs } from './parse-args.js';
import { COMMANDS, findCommand, flagsOf } from './spec.js';
import { nearest } from './suggest.js';
import { PACKAGE_NAME, VERSION } from './version.js';

type Handler = (ctx: CommandContext) => Promise<CommandOutcome>;

/** Commands are imported when run: `pgm --help` and `pgm --version` load neither pg nor jiti. */
const HANDLERS: Record<string, () => Promise<Handler>> = {
  create: () => import('./commands/create.js').then((m) => m.createCommand),
  migrate: () => import('./commands/migrate.js').then((m) => m.migrateCommand),
  status: () => import('./commands/status.js').then((m) => m.statusCommand),
  rollback: () => import('./commands/rollback.js').then((m) => m.rollbackCommand),
  list: () => import('./commands/list.js').then((m) => m.listCommand),
};

/** Did the argv ask for JSON? (Also when parsing failed, so errors come out as JSON too.) */
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

function writeJson(io: ReturnType<typeof resolveIo>, doc: Record<string, unknown>, secrets: string[]): void {
  io.stdout.write(`${redactSecrets(JSON.stringify(doc, null, 2), secrets)}\n`);
}

/**
 * Run `pgm` with `argv` (the arguments after the program name) and return the
 * exit code: 0 success, 1 a migration or connection failure, 2 a usage or
 * configuration error. Never calls `process.exit`; output goes to `io`.
 *
 * @example process.exitCode = await run(process.argv.slice(2));
 */
export async function run(argv: readonly string[], io?: CliIo): Promise<number> {
  const rio = resolveIo(io);
  let args: ParsedArgs | undefined;
  let ctx: CommandContext | undefined;
  const json = wantsJson(argv);
  try {
    args = parseArgs(argv);
    const color = typeof args.flags.color === 'boolean' ? args.flags.color : undefined;
    const c = chooseColors({ isTTY: rio.stdout.isTTY, env: rio.env, flag: color });
    ctx = createContext(args, rio, c);

    if (args.flags.version) {
      if (json) writeJson(rio, { ok: true, command: 'version', name: PACKAGE_NAME, version: VERSION }, []);
      else rio.stdout.write(`${VERSION}\n`);
      return 0;
    }
    let command = args.command;
    if (command?.name === 'help') {
      const topic = args.positionals[0];
      command = topic ? findCommand(topic) : undefined;
      if (topic && (!command || command.name === 'help')) {
        const guess = nearest(
          topic,
          COMMANDS.map((x) => x.name),
        );
        throw usageError(`No help for "${topic}": unknown command.${guess ? ` Did you mean "${guess}"?` : ''}`);
      }
      return printHelp(ctx, command?.name);
    }
    if (args.flags.help) return printHelp(ctx, command?.name);
    if (!command) {
      if (json) throw usageError('Missing command. Run "pgm --help" for the list of commands.');
      rio.stderr.write(globalHelp(VERSION, c));
      return 2;
    }

    const handler = await HANDLERS[command.name]!();
    const outcome = await handler(ctx);
    if (json) writeJson(rio, { ok: outcome.exitCode === 0, command: command.name, ...outcome.json }, ctx.secrets);
    return outcome.exitCode;
  } catch (err) {
    const secrets = ctx?.secrets ?? [];
    const exitCode = exitCodeOf(err);
    const hint = exitCode === 1 && ctx?.loaded ? connectionHint(err, ctx.loaded) : undefined;
    const message = redactSecrets(
      describeError(err, ctx?.verbose ?? false) + (hint ? `\n  connection: ${hint}` : ''),
      secrets,
    );
    if (json) {
      const error: Record<string, unknown> = { code: codeOf(err), message: redactSecrets(errMessage(err), secrets) };
      if (hint) error.connection = redactSecrets(hint, secrets);
      if (isPgmError(err) && err.details) {
        const details = { ...err.details };
        delete details.result;
        error.details = details;
      }
      writeJson(rio, { ok: false, command: args?.command?.name ?? null, exitCode, error }, secrets);
    }
    const red = ctx?.c.red ?? ((s: string) => s);
    rio.stderr.write(`${red('error:')} ${message}\n`);
    return exitCode;
  }
}

/**
 * For a connection failure: `cluster primary postgres://user:***@host:port/db`
 * of the cluster it is about, or of every cluster when the error does not say.
 */
function connectionHint(err: unknown, config: LoadedConfig): string | undefined {
  if (!isConnectionError(err) || !config.clusters) return undefined;
  const describe = (id: string) => {
    const primary = config.clusters?.[id]?.primary;
    return primary === undefined ? undefined : `${id} primary ${describeNode(primary)}`;
  };
  let e: unknown = err;
  for (let i = 0; i < 5 && e && typeof e === 'object'; i++) {
    const clusterId = (e as { clusterId?: unknown }).clusterId;
    if (typeof clusterId === 'string') return describe(clusterId);
    e = (e as { cause?: unknown }).cause;
  }
  const all = Object.keys(config.clusters).map(describe).filter(Boolean);
  return all.length === 1 ? all[0] : `one of ${all.join(', ')}`;
}

const CONNECTION_CODES =
  /^(28P01|28000|3D000|57P03|08\d{3}|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|CONNECTION_FAILED)$/;

function isConnectionError(err: unknown): boolean {
  let e: unknown = err;
  for (let i = 0; i < 5 && e && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CONNECTION_CODES.test(code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The message plus the causes' (and with --verbose, the stack). */
function describeError(err: unknown, verbose: boolean): string {
  const lines = [errMessage(err)];
  let cause = (err as { cause?: unknown } | null)?.cause;
  for (let i = 0; i < 4 && cause; i++) {
    const m = errMessage(cause);
    if (m && !lines.some((l) => l.includes(m))) lines.push(`  caused by: ${m}`);
    cause = (cause as { cause?: unknown }).cause;
  }
  if (verbose && err instanceof Error && err.stack) lines.push(err.stack.split('\n').slice(1).join('\n'));
  return lines.join('\n');
}

function printHelp(ctx: CommandContext, name: string | undefined): number {
  const command = name ? findCommand(name) : undefined;
  if (ctx.json) {
    const list = command ? [command] : COMMANDS;
    ctx.io.stdout.write(
      `${JSON.stringify(
        {
          ok: true,
          command: 'help',
          version: VERSION,
          commands: list.map((x) => ({
            name: x.name,
            args: x.args ?? null,
            summary: x.summary,
            flags: flagsOf(x).map((f) => ({
              name: `--${f.name}`,
              alias: f.alias ? `-${f.alias}` : null,
              type: f.type,
              description: f.description,
            })),
          })),
        },
        null,
        2,
      )}\n`,
    );
    return 0;
  }
  ctx.io.stdout.write(command ? commandHelp(command, ctx.c) : globalHelp(VERSION, ctx.c));
  return 0;
}
