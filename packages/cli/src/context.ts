import { redactSecrets } from '@pg-multiverse/core';
import type { LoadedConfig } from './config/load-config.js';
import type { ResolvedIo } from './io.js';
import type { Colors } from './output/colors.js';
import { listFlag, type ParsedArgs, stringFlag } from './parse-args.js';

/** What a command returns: its exit code and its `--json` document. */
export interface CommandOutcome {
  exitCode: 0 | 1 | 2;
  json: Record<string, unknown>;
}

/** Everything a command needs to talk to the user. */
export interface CommandContext {
  args: ParsedArgs;
  io: ResolvedIo;
  c: Colors;
  json: boolean;
  verbose: boolean;
  /** Passwords of the loaded configuration; every line printed is redacted with them. */
  secrets: string[];
  /** True when per-step progress lines are wanted: stdout is a terminal, or --verbose. Never with --json on stdout. */
  progress: boolean;
  /** Human output to stdout (silent with --json). */
  print(text: string): void;
  /** Progress line: stdout, or stderr when --json (only with --verbose). */
  step(text: string): void;
  /** Warnings and errors, to stderr (always). */
  warn(text: string): void;
  /** The configuration, once `config()` loaded it. */
  loaded: LoadedConfig | undefined;
  /** Load the configuration once (`requireClusters: false` for create/list). */
  config(requireClusters: boolean): Promise<LoadedConfig>;
}

export function createContext(args: ParsedArgs, io: ResolvedIo, c: Colors): CommandContext {
  const json = args.flags.json === true;
  const verbose = args.flags.verbose === true;
  let loaded: Promise<LoadedConfig> | undefined;
  const ctx: CommandContext = {
    args,
    io,
    c,
    json,
    verbose,
    secrets: [],
    loaded: undefined,
    progress: json ? verbose : verbose || Boolean(io.stdout.isTTY),
    print(text) {
      if (!json) io.stdout.write(`${redactSecrets(text, ctx.secrets)}\n`);
    },
    step(text) {
      if (!ctx.progress) return;
      (json ? io.stderr : io.stdout).write(`${redactSecrets(text, ctx.secrets)}\n`);
    },
    warn(text) {
      io.stderr.write(`${redactSecrets(text, ctx.secrets)}\n`);
    },
    config(requireClusters) {
      // Imported here, not at the top: loading a configuration needs jiti and pg, --help does not.
      loaded ??= import('./config/load-config.js').then(({ loadConfig }) =>
        loadConfig({
          cwd: io.cwd,
          env: io.env,
          configFile: stringFlag(args.flags, 'config'),
          migrationsDir: stringFlag(args.flags, 'migrations'),
          schemas: listFlag(args.flags, 'schemas'),
          requireClusters,
        }).then((cfg) => {
          ctx.secrets.push(...cfg.secrets);
          ctx.loaded = cfg;
          return cfg;
        }),
      );
      return loaded;
    },
  };
  return ctx;
}
