import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import type { NodeConnection } from '../src/index.js';
import { pickBinCacheDir } from '../src/tmp-base.js';

/** One query through the node's proxy (what an application sees). */
export async function viaProxy<R extends pg.QueryResultRow = Record<string, unknown>>(
  conn: NodeConnection,
  sql: string,
  params?: unknown[],
): Promise<R[]> {
  const c = new pg.Client({ ...conn, connectionTimeoutMillis: 10_000 });
  c.on('error', () => {});
  await c.connect();
  try {
    return (await c.query<R>(sql, params)).rows;
  } finally {
    await c.end().catch(() => {});
  }
}

export { isProcessAlive as isAlive } from '../src/index.js';

/** PIDs of every live descendant of `root` (Linux /proc). */
export function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(d), ppid);
    } catch {}
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, pp] of parent) {
      if (pp === p) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(root);
  return out;
}

/**
 * Gives this test file a base directory of its own for data, sockets, templates and binary
 * copies (PGM_TESTKIT_TMPDIR, read once per process on first use; call at the top of the file).
 * Other test runs sharing /tmp or /dev/shm reap orphans there, and must not take what this
 * file's own `reapOrphans` is expected to find. Returns a getter of the directory.
 */
export function useOwnTmpBase(label: string): () => string {
  const saved = process.env.PGM_TESTKIT_TMPDIR;
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(pickBinCacheDir({}), `pgm-own-base-${label}-`));
    chmodSync(dir, 0o755); // the server user must enter it
    process.env.PGM_TESTKIT_TMPDIR = dir;
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.PGM_TESTKIT_TMPDIR;
    else process.env.PGM_TESTKIT_TMPDIR = saved;
    rmSync(dir, { recursive: true, force: true });
  });
  return () => dir;
}
