import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import type { NodeConnection } from '../src/index.js';

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
