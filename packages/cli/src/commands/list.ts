import type { CommandContext, CommandOutcome } from '../context.js';
import { usageError } from '../errors.js';
import { openManager } from '../manager.js';
import { plural } from '../output/format.js';
import { renderTable } from '../output/table.js';

/** `pgm list`: every migration found, in order. Needs no database. */
export async function listCommand(ctx: CommandContext): Promise<CommandOutcome> {
  if (ctx.args.positionals.length) throw usageError(`Unexpected argument "${ctx.args.positionals[0]}" for "pgm list".`);
  const { mm, config } = await openManager(ctx, false);
  let migrations: ReturnType<typeof mm.getMigrations>;
  try {
    migrations = mm.getMigrations();
  } finally {
    await mm.close().catch(() => {});
  }
  const { c } = ctx;
  const all = (xs: readonly string[] | undefined) => (xs?.length ? xs.join(',') : c.dim('all'));
  const none = (xs: readonly string[] | undefined) => (xs?.length ? xs.join(',') : c.dim('-'));
  if (migrations.length === 0) {
    ctx.print(`No migrations in ${config.migrations.migrationsPath}. Create one with "pgm create <name>".`);
  } else if (ctx.verbose) {
    for (const m of migrations) {
      ctx.print(`${c.bold(m.version)}${m.description ? `  ${m.description}` : ''}`);
      ctx.print(`  schemas: ${all(m.targetSchemas)}   clusters: ${all(m.targetClusters)}`);
      ctx.print(`  tags: ${none(m.tags)}   depends on: ${none(m.dependencies)}`);
      ctx.print(
        `  ${m.down ? 'reversible' : c.yellow('no down()')}${m.transaction ? '' : ', outside a transaction'}   checksum ${m.checksum.slice(0, 12)}`,
      );
      if (m.file) ctx.print(c.dim(`  ${m.file}`));
    }
  } else {
    ctx.print(
      renderTable(
        ['Version', 'Schemas', 'Description'],
        migrations.map((m) => [m.version, all(m.targetSchemas), m.description ?? '']),
        { header: c.bold },
      ),
    );
  }
  if (migrations.length)
    ctx.print(`\n${plural(migrations.length, 'migration')} in ${config.migrations.migrationsPath}.`);
  return {
    exitCode: 0,
    json: {
      migrationsPath: config.migrations.migrationsPath,
      migrations: migrations.map((m) => ({
        version: m.version,
        name: m.name,
        description: m.description ?? null,
        targetSchemas: m.targetSchemas,
        targetClusters: m.targetClusters ?? [],
        tags: m.tags,
        dependencies: m.dependencies,
        reversible: typeof m.down === 'function',
        transaction: m.transaction,
        checksum: m.checksum,
        file: m.file ?? null,
      })),
    },
  };
}
