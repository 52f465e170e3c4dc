import type { Colors } from './output/colors.js';
import { COMMANDS, type CommandSpec, type FlagSpec, GLOBAL_FLAGS } from './spec.js';

function flagLine(f: FlagSpec): string {
  const short = f.alias ? `-${f.alias}, ` : '    ';
  const name = f.name === 'color' ? '--[no-]color' : `--${f.name}`;
  return `${short}${name}${f.value ? ` ${f.value}` : ''}`;
}

function flagTable(flags: FlagSpec[], c: Colors): string[] {
  const width = Math.max(...flags.map((f) => flagLine(f).length));
  return flags.map((f) => `  ${c.cyan(flagLine(f).padEnd(width))}  ${f.description}`);
}

/** `pgm --help`. */
export function globalHelp(version: string, c: Colors): string {
  const width = Math.max(...COMMANDS.map((cmd) => cmd.name.length + (cmd.args ? cmd.args.length + 1 : 0)));
  return [
    `${c.bold('pgm')} ${version} — migrations for every cluster and schema of pg-multiverse`,
    '',
    `${c.bold('Usage:')} pgm <command> [flags]`,
    '',
    c.bold('Commands:'),
    ...COMMANDS.map(
      (cmd) => `  ${c.cyan(`${cmd.name}${cmd.args ? ` ${cmd.args}` : ''}`.padEnd(width))}  ${cmd.summary}`,
    ),
    '',
    c.bold('Global flags:'),
    ...flagTable(GLOBAL_FLAGS, c),
    '',
    c.bold('Configuration:'),
    '  pgm.config.ts|mts|mjs|js|cjs|json, searched from the current folder up, or --config FILE;',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${VAR} shown to the user
    '  ${VAR} in any string is read from the environment; DATABASE_URL alone is enough for one cluster.',
    '',
    c.bold('Exit codes:'),
    '  0 success, 1 a migration or connection failure, 2 a usage or configuration error.',
    '',
    `Run ${c.cyan('pgm <command> --help')} for a command's flags.`,
    '',
  ].join('\n');
}

/** `pgm <command> --help`. */
export function commandHelp(cmd: CommandSpec, c: Colors): string {
  return [
    `${c.bold('Usage:')} pgm ${cmd.name}${cmd.args ? ` ${cmd.args}` : ''} [flags]`,
    '',
    cmd.summary,
    '',
    ...(cmd.flags.length ? [c.bold('Flags:'), ...flagTable(cmd.flags, c), ''] : []),
    c.bold('Global flags:'),
    ...flagTable(GLOBAL_FLAGS, c),
    '',
    c.bold('Examples:'),
    ...cmd.examples.map((e) => `  ${e}`),
    '',
  ].join('\n');
}
