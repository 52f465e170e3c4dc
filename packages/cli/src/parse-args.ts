import mri from 'mri';
import { usageError } from './errors.js';
import { COMMANDS, type CommandSpec, type FlagSpec, findCommand, flagsOf, GLOBAL_FLAGS } from './spec.js';
import { nearest } from './suggest.js';

/** Flags whose values are comma-separated lists; repeating the flag adds to the list. */
const LIST_FLAGS = new Set(['schemas', 'clusters', 'tags']);

export interface ParsedArgs {
  /** The command, or undefined when none was given. */
  command: CommandSpec | undefined;
  /** Positional arguments after the command. */
  positionals: string[];
  /** Flag values by long name: strings, string lists (list flags) and booleans. */
  flags: Record<string, string | string[] | boolean>;
}

function allFlags(): FlagSpec[] {
  const seen = new Map<string, FlagSpec>();
  for (const f of [...GLOBAL_FLAGS, ...COMMANDS.flatMap((c) => c.flags)]) seen.set(f.name, f);
  return [...seen.values()];
}

function dashed(key: string): string {
  return key.length === 1 ? `-${key}` : `--${key}`;
}

/**
 * Parse `argv` (without `node` and the script). Throws a usage error
 * (`INVALID_ARGUMENT`, exit code 2) for an unknown command or flag, naming
 * the nearest valid one, and for a flag missing its value.
 */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const known = allFlags();
  const alias: Record<string, string> = {};
  for (const f of known) if (f.alias) alias[f.alias] = f.name;
  const raw = mri([...argv], {
    boolean: known.filter((f) => f.type === 'boolean').map((f) => f.name),
    string: known.filter((f) => f.type === 'string').map((f) => f.name),
    alias,
  });

  const [name, ...positionals] = raw._.map(String);
  let command: CommandSpec | undefined;
  if (name !== undefined) {
    command = findCommand(name);
    if (!command) {
      const guess = nearest(
        name,
        COMMANDS.map((c) => c.name),
      );
      throw usageError(
        `Unknown command "${name}".${guess ? ` Did you mean "${guess}"?` : ''} Run "pgm --help" for the list of commands.`,
        { command: name, suggestion: guess },
      );
    }
  }

  const allowed = flagsOf(command);
  const byKey = new Map<string, FlagSpec>();
  for (const f of allowed) {
    byKey.set(f.name, f);
    if (f.alias) byKey.set(f.alias, f);
  }
  const where = command ? `"pgm ${command.name}"` : 'pgm';
  const flags: ParsedArgs['flags'] = {};
  for (const [key, value] of Object.entries(raw)) {
    if (key === '_') continue;
    const spec = byKey.get(key);
    if (!spec) {
      // An alias of a flag that exists elsewhere is reported under its long name only once.
      if (key.length === 1 && alias[key] && !byKey.has(alias[key]!)) continue;
      const guess = nearest(
        key,
        allowed.map((f) => f.name),
      );
      const other = known.some((f) => f.name === key) && command;
      throw usageError(
        `${other ? `Flag ${dashed(key)} is not valid for ${where}` : `Unknown flag ${dashed(key)} for ${where}`}.${
          guess ? ` Did you mean "--${guess}"?` : ''
        } Run "${command ? `pgm ${command.name} --help` : 'pgm --help'}" for its flags.`,
        { flag: key, suggestion: guess },
      );
    }
    if (key !== spec.name) continue; // the alias; mri also set the long name
    flags[spec.name] = normalizeValue(spec, value);
  }
  return { command, positionals, flags };
}

function normalizeValue(spec: FlagSpec, value: unknown): string | string[] | boolean {
  if (spec.type === 'boolean') {
    if (Array.isArray(value)) return Boolean(value[value.length - 1]);
    return Boolean(value);
  }
  const values = (Array.isArray(value) ? value : [value]).map((v) => (v === true ? '' : String(v)));
  if (values.some((v) => v === '')) {
    throw usageError(`Flag --${spec.name} needs a value${spec.value ? ` (--${spec.name} ${spec.value})` : ''}.`, {
      flag: spec.name,
    });
  }
  if (LIST_FLAGS.has(spec.name)) {
    const list = values
      .flatMap((v) => v.split(','))
      .map((s) => s.trim())
      .filter(Boolean);
    if (list.length === 0) throw usageError(`Flag --${spec.name} needs at least one name.`, { flag: spec.name });
    return [...new Set(list)];
  }
  return values[values.length - 1]!;
}

/** A positive integer flag, or undefined when absent. */
export function intFlag(flags: ParsedArgs['flags'], name: string): number | undefined {
  const v = flags[name];
  if (v === undefined) return undefined;
  const s = String(v);
  if (!/^[1-9][0-9]*$/.test(s)) throw usageError(`Flag --${name} needs a positive whole number, got "${s}".`);
  return Number(s);
}

export function stringFlag(flags: ParsedArgs['flags'], name: string): string | undefined {
  const v = flags[name];
  return typeof v === 'string' ? v : undefined;
}

export function listFlag(flags: ParsedArgs['flags'], name: string): string[] | undefined {
  const v = flags[name];
  return Array.isArray(v) ? v : undefined;
}
