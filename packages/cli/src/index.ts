export { expandEnv } from './config/expand-env.js';
export { CONFIG_NAMES, findConfig } from './config/find-config.js';
export {
  type LoadConfigOptions,
  type LoadedConfig,
  loadConfig,
  type MigrationSettings,
  type PgmConfig,
} from './config/load-config.js';
export type { CliIo, CliStream } from './io.js';
export { main } from './main.js';
export { type ParsedArgs, parseArgs } from './parse-args.js';
export { run } from './run.js';
export { COMMANDS, type CommandSpec, type FlagSpec, GLOBAL_FLAGS } from './spec.js';
export { VERSION } from './version.js';
