import { relative } from 'node:path';
import { type MigrationCreateOptions, MigrationManager } from '@pg-multiverse/migrate';
import type { CommandContext, CommandOutcome } from '../context.js';
import { usageError } from '../errors.js';
import { OFFLINE_CLUSTERS } from '../manager.js';
import { listFlag, stringFlag } from '../parse-args.js';

const EXTS = ['ts', 'js', 'mjs', 'cjs', 'sql'] as const;
type Ext = (typeof EXTS)[number];

/** `pgm create <name>`: write a migration file from a template; never connects to a database. */
export async function createCommand(ctx: CommandContext): Promise<CommandOutcome> {
  const [name, ...extra] = ctx.args.positionals;
  if (!name) throw usageError('Missing the migration name: pgm create <name> [--schemas a,b] ...');
  if (extra.length) {
    throw usageError(
      `Unexpected argument "${extra[0]}". The name is one word, e.g. add_user_roles (quote the --description).`,
    );
  }
  const ext = stringFlag(ctx.args.flags, 'ext')?.replace(/^\./, '');
  if (ext !== undefined && !EXTS.includes(ext as Ext)) {
    throw usageError(`Invalid --ext "${ext}": one of ${EXTS.join(', ')}.`);
  }

  const config = await ctx.config(false);
  const options: MigrationCreateOptions = {};
  const schemas = listFlag(ctx.args.flags, 'schemas');
  const clusters = listFlag(ctx.args.flags, 'clusters');
  const tags = listFlag(ctx.args.flags, 'tags');
  const description = stringFlag(ctx.args.flags, 'description');
  if (schemas) options.targetSchemas = schemas;
  if (clusters) options.targetClusters = clusters;
  if (tags) options.tags = tags;
  if (description !== undefined) options.description = description;
  if (ext) options.ext = ext as Ext;

  const mm = new MigrationManager({ ...config.migrations, clusters: config.clusters ?? OFFLINE_CLUSTERS });
  let file: string;
  try {
    file = await mm.createMigration(name, options);
  } finally {
    await mm.close();
  }
  const shown = relative(ctx.io.cwd, file) || file;
  ctx.print(`${ctx.c.green('✔')} Created ${ctx.c.bold(shown.startsWith('..') ? file : shown)}`);
  return { exitCode: 0, json: { file } };
}
