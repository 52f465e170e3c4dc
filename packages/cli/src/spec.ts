/** One flag of the command line. */
export interface FlagSpec {
  /** Long name without dashes, e.g. `dry-run`. */
  name: string;
  /** Single-letter alias. */
  alias?: string;
  /** `string` takes a value (`--target V`); `boolean` does not. */
  type: 'string' | 'boolean';
  /** Placeholder shown in help, e.g. `N`. */
  value?: string;
  description: string;
}

export interface CommandSpec {
  name: string;
  /** Positional arguments, for help: `<name>`. */
  args?: string;
  summary: string;
  flags: FlagSpec[];
  examples: string[];
}

const schemas: FlagSpec = {
  name: 'schemas',
  type: 'string',
  value: 'a,b',
  description: 'only these schemas (comma-separated)',
};
const clusters: FlagSpec = {
  name: 'clusters',
  type: 'string',
  value: 'c,d',
  description: 'only these clusters (comma-separated)',
};
const dryRun: FlagSpec = { name: 'dry-run', type: 'boolean', description: 'show what would run, change nothing' };

/** Flags every command accepts. */
export const GLOBAL_FLAGS: FlagSpec[] = [
  {
    name: 'config',
    alias: 'c',
    type: 'string',
    value: 'FILE',
    description: 'configuration file (default: pgm.config.*)',
  },
  {
    name: 'migrations',
    alias: 'm',
    type: 'string',
    value: 'DIR',
    description: 'migrations folder (overrides the config)',
  },
  { name: 'verbose', alias: 'v', type: 'boolean', description: 'more detail; progress lines even when piped' },
  { name: 'json', type: 'boolean', description: 'print one JSON document to stdout (for scripts and CI)' },
  { name: 'help', alias: 'h', type: 'boolean', description: 'show help' },
  { name: 'version', alias: 'V', type: 'boolean', description: 'print the version' },
  { name: 'color', type: 'boolean', description: 'colours (default: when stdout is a terminal and NO_COLOR is unset)' },
];

export const COMMANDS: CommandSpec[] = [
  {
    name: 'create',
    args: '<name>',
    summary: 'Write a new migration file from a template (no database needed)',
    flags: [
      { ...schemas, description: 'target schemas of the migration (comma-separated)' },
      { ...clusters, description: 'target clusters of the migration (comma-separated)' },
      { name: 'description', alias: 'd', type: 'string', value: 'TEXT', description: 'what the migration does' },
      { name: 'tags', type: 'string', value: 't,u', description: 'tags (comma-separated)' },
      {
        name: 'ext',
        type: 'string',
        value: 'ts|js|sql',
        description: 'file type (default: that of the folder’s existing files, else ts)',
      },
    ],
    examples: ['pgm create add_user_roles --schemas users,auth --description "Add role-based permissions"'],
  },
  {
    name: 'migrate',
    summary: 'Apply pending migrations to every (cluster, schema) target',
    flags: [
      {
        name: 'target',
        alias: 't',
        type: 'string',
        value: 'V',
        description: 'stop after this version (full version or its 14-digit timestamp)',
      },
      schemas,
      clusters,
      { name: 'parallel', alias: 'p', type: 'boolean', description: 'run targets in parallel' },
      {
        name: 'max-parallel',
        type: 'string',
        value: 'N',
        description: 'at most N targets at once (implies --parallel)',
      },
      dryRun,
      { name: 'continue-on-error', type: 'boolean', description: 'keep going on other targets after a failure' },
    ],
    examples: [
      'pgm migrate',
      'pgm migrate --target 20241230120000',
      'pgm migrate --schemas users,products',
      'pgm migrate --parallel --max-parallel 4',
      'pgm migrate --dry-run',
    ],
  },
  {
    name: 'status',
    summary: 'Applied and pending migrations by cluster and schema',
    flags: [schemas, clusters],
    examples: ['pgm status', 'pgm status --schemas users', 'pgm status --verbose'],
  },
  {
    name: 'rollback',
    summary: 'Undo applied migrations (default: the last one)',
    flags: [
      {
        name: 'steps',
        alias: 'n',
        type: 'string',
        value: 'N',
        description: 'undo the newest N migrations, wherever applied (default 1)',
      },
      {
        name: 'target',
        alias: 't',
        type: 'string',
        value: 'V',
        description: 'undo everything applied after this version (which stays applied)',
      },
      schemas,
      clusters,
      dryRun,
      { name: 'force', alias: 'f', type: 'boolean', description: 'roll back even when checks would refuse' },
    ],
    examples: ['pgm rollback --steps 1', 'pgm rollback --target 20241230110000', 'pgm rollback --dry-run'],
  },
  {
    name: 'list',
    summary: 'Show every migration found in the migrations folder',
    flags: [],
    examples: ['pgm list', 'pgm list --verbose'],
  },
  {
    name: 'help',
    args: '[command]',
    summary: 'Show help for pgm or one command',
    flags: [],
    examples: ['pgm help migrate'],
  },
];

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** Every flag a command accepts, its own first. */
export function flagsOf(command: CommandSpec | undefined): FlagSpec[] {
  return command ? [...command.flags, ...GLOBAL_FLAGS] : GLOBAL_FLAGS;
}
