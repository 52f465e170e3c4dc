#!/usr/bin/env node
// The `pgm` command, installed with `npm install -g pg-multiverse`: the migration commands of
// @pg-multiverse/cli, plus the sharding commands of this package (move, rebalance, recover-moves,
// cleanup-moves). `pgm --help` loads neither pg nor jiti (commands are imported when run).
import { main } from '@pg-multiverse/cli/main';
import { RESHARD_COMMANDS, RESHARD_HELP } from './reshard-help.js';

const argv = process.argv.slice(2);
const SHARDING = new Set<string>(RESHARD_COMMANDS);

if (argv[0] === 'help' && argv[1] !== undefined && SHARDING.has(argv[1])) {
  process.stdout.write(`${RESHARD_HELP}\n`);
} else if (argv[0] !== undefined && SHARDING.has(argv[0])) {
  void import('./reshard-cli.js').then(async ({ runReshardCommand }) => {
    const code = await runReshardCommand(argv, {
      stdout: process.stdout,
      stderr: process.stderr,
      cwd: process.cwd(),
      env: process.env,
    });
    process.exitCode = code;
    setTimeout(() => process.exit(code), 5000).unref();
  });
} else {
  void main().then(() => {
    const help = argv.length === 0 || argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h';
    if (help && argv.length <= 1) {
      process.stdout.write(`\n${RESHARD_HELP}\n`);
    }
  });
}
