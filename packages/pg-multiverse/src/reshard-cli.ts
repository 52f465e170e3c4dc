import { parseArgs } from 'node:util';
import { loadConfig } from '@pg-multiverse/cli';
import { isPgmError, redactSecrets } from '@pg-multiverse/core';
import type { MoveProgress } from '@pg-multiverse/reshard';
import { PgMultiverse } from './pg-multiverse.js';
import { RESHARD_HELP } from './reshard-help.js';

export interface ReshardCliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  cwd: string;
  env: Record<string, string | undefined>;
}

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  migrations: { type: 'string', short: 'm' },
  cluster: { type: 'string' },
  partitions: { type: 'string' },
  to: { type: 'string' },
  servers: { type: 'string' },
  'keep-source': { type: 'boolean' },
  'hold-timeout': { type: 'string' },
  'max-queued': { type: 'string' },
  'cutover-attempts': { type: 'string' },
  'batch-size': { type: 'string' },
  'cleanup-delay': { type: 'string' },
  'dry-run': { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

class UsageError extends Error {}

const intList = (v: string, flag: string): number[] =>
  v.split(',').map((x) => {
    const n = Number(x.trim());
    if (x.trim() === '' || !Number.isInteger(n)) throw new UsageError(`--${flag}: "${x}" is not an integer`);
    return n;
  });

const positive = (v: string | undefined, flag: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${flag}: expected a positive number, got "${v}"`);
  return n;
};

const nonNegative = (v: string, flag: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new UsageError(`--${flag}: expected a number >= 0, got "${v}"`);
  return n;
};

const human = (bytes: number) =>
  bytes < 0
    ? '?'
    : bytes >= 1 << 20
      ? `${(bytes / (1 << 20)).toFixed(1)} MB`
      : bytes >= 1024
        ? `${(bytes / 1024).toFixed(1)} kB`
        : `${bytes} B`;

/** One line of progress: a bar on a terminal, plain text otherwise. */
export function progressLine(p: MoveProgress, width = 24): string {
  const ratio = p.rowsTotal > 0 ? Math.min(1, p.rowsCopied / p.rowsTotal) : p.phase === 'catch-up' ? 1 : 0;
  const filled = Math.round(ratio * width);
  const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
  return `[${bar}] ${(ratio * 100).toFixed(0).padStart(3)}% ${p.source} -> ${p.target} ${p.phase}: ${p.rowsCopied}/${p.rowsTotal} rows, ${human(p.bytesCopied)}, lag ${human(p.lagBytes)}, tables ${p.tablesReady}/${p.tablesTotal}`;
}

/**
 * Runs one sharding command; returns the exit code (0 done, 1 the operation failed, 2 usage or
 * configuration). Output: human lines (stdout), progress (stderr, a redrawn bar on a terminal),
 * or one JSON document with --json. Passwords never appear.
 */
export async function runReshardCommand(argv: readonly string[], io: ReshardCliIo): Promise<number> {
  let secrets: string[] = [];
  const [command, ...rest] = argv;
  let json = rest.includes('--json');
  const out = (text: string) => {
    if (!json) io.stdout.write(`${redactSecrets(text, secrets)}\n`);
  };
  let pgm: PgMultiverse | undefined;
  try {
    const { values } = parseArgs({ args: [...rest], options: OPTIONS, strict: true, allowPositionals: false });
    json = values.json === true;
    if (values.help) {
      io.stdout.write(`${RESHARD_HELP}\n`);
      return 0;
    }
    const cluster = values.cluster;
    if (!cluster) throw new UsageError(`pgm ${command}: --cluster is required`);
    const loaded = await loadConfig({
      cwd: io.cwd,
      env: io.env,
      requireClusters: true,
      ...(values.config ? { configFile: values.config } : {}),
      ...(values.migrations ? { migrationsDir: values.migrations } : {}),
    });
    secrets = loaded.secrets;
    const moveOptions = {
      ...(values['keep-source'] ? { keepSource: true } : {}),
      ...(values['hold-timeout'] ? { holdTimeoutMs: positive(values['hold-timeout'], 'hold-timeout') } : {}),
      ...(values['max-queued'] ? { maxQueuedWrites: positive(values['max-queued'], 'max-queued') } : {}),
      ...(values['cleanup-delay'] !== undefined
        ? { cleanupDelayMs: nonNegative(values['cleanup-delay'], 'cleanup-delay') }
        : {}),
      ...(values['cutover-attempts']
        ? { cutoverAttempts: positive(values['cutover-attempts'], 'cutover-attempts') }
        : {}),
    };
    if (command === 'move' && (!values.partitions || !values.to)) {
      throw new UsageError('pgm move: --partitions and --to are required (e.g. --partitions 3,7 --to shard-2)');
    }
    if (command === 'rebalance' && !values.servers) {
      throw new UsageError('pgm rebalance: --servers is required (e.g. --servers shard-0,shard-1,shard-2)');
    }
    pgm = new PgMultiverse({
      enableMigrations: true,
      migrations: loaded.migrations,
      enableMetrics: false,
      enableTransactions: false,
    });
    await pgm.initialize(loaded.clusters!);
    const tty = Boolean(io.stderr.isTTY) && !json;
    let lastPrint = 0;
    pgm.on('moveProgress', (p) => {
      if (json) return;
      const line = progressLine(p);
      if (tty) io.stderr.write(`\r${line}\u001b[K`);
      else if (Date.now() - lastPrint >= 1000) {
        lastPrint = Date.now();
        io.stderr.write(`${line}\n`);
      }
    });
    pgm.on('moveStateChanged', (m) => {
      if (json) return;
      if (tty) io.stderr.write('\r\u001b[K');
      io.stderr.write(`move ${m.id} ${m.source} -> ${m.target} [${m.partitions.join(',')}]: ${m.from} -> ${m.state}\n`);
    });
    pgm.on('cutoverAborted', (e) => {
      if (!json) io.stderr.write(`cutover attempt ${e.attempt} aborted: ${e.reason}\n`);
    });

    let doc: Record<string, unknown>;
    if (command === 'move') {
      const report = await pgm.movePartitions({
        cluster,
        partitions: intList(values.partitions!, 'partitions'),
        to: values.to!,
        ...moveOptions,
      });
      for (const m of report.moves) {
        out(
          `moved partitions ${m.partitions.join(',')} of ${report.cluster} from ${m.source} to ${m.target}: ${m.rowsCopied} rows, writes held ${m.cutover.holdMs.toFixed(1)} ms, map version ${m.cutover.mapVersion}, ${m.keepSource ? 'rows kept on the source' : `${m.deletedFromSource} rows deleted from the source`}`,
        );
      }
      if (report.skipped.length > 0) out(`already on ${report.to}: ${report.skipped.join(',')}`);
      doc = { command, ...report };
    } else if (command === 'rebalance') {
      const report = await pgm.rebalance({
        cluster,
        servers: values.servers!.split(',').map((s) => s.trim()),
        dryRun: values['dry-run'] === true,
        ...moveOptions,
      });
      out(report.text);
      if (!report.dryRun) out(`done: ${report.moves.reduce((n, m) => n + m.moves.length, 0)} moves`);
      doc = { command, ...report };
    } else if (command === 'recover-moves') {
      const recovered = await pgm.recoverMoves({
        cluster,
        ...(moveOptions.cleanupDelayMs !== undefined ? { cleanupDelayMs: moveOptions.cleanupDelayMs } : {}),
      });
      if (recovered.length === 0) out(`no interrupted move of ${cluster}`);
      for (const r of recovered) {
        out(
          `move ${r.move.id} (${r.move.source} -> ${r.move.target}, partitions ${r.move.partitions.join(',')}): ${r.outcome}`,
        );
      }
      doc = { command, recovered };
    } else {
      const batch = positive(values['batch-size'], 'batch-size');
      const r = await pgm.cleanupMovedPartitions({ cluster, ...(batch ? { batchSize: batch } : {}) });
      out(
        `deleted ${r.deleted} moved rows (${Object.entries(r.byShard)
          .map(([s, n]) => `${s}: ${n}`)
          .join(', ')})`,
      );
      doc = { command, ...r };
    }
    if (json) io.stdout.write(`${redactSecrets(JSON.stringify(doc, null, 2), secrets)}\n`);
    return 0;
  } catch (err) {
    const usage = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    const message = redactSecrets((err as Error).message ?? String(err), secrets);
    const code = isPgmError(err) ? err.code : usage ? 'USAGE' : 'FAILED';
    if (json) io.stdout.write(`${JSON.stringify({ command, ok: false, error: { code, message } }, null, 2)}\n`);
    else io.stderr.write(`pgm ${command}: ${message}${usage ? `\n\n${RESHARD_HELP}` : ''}\n`);
    return usage || code === 'INVALID_CONFIG' || code === 'INVALID_ARGUMENT' ? 2 : 1;
  } finally {
    await pgm?.close().catch(() => {});
  }
}
