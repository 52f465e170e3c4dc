import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Names looked for in each folder, in this order. */
export const CONFIG_NAMES = [
  'pgm.config.ts',
  'pgm.config.mts',
  'pgm.config.cts',
  'pgm.config.mjs',
  'pgm.config.js',
  'pgm.config.cjs',
  'pgm.config.json',
] as const;

/** The nearest `pgm.config.*`, from `cwd` up to the filesystem root. */
export function findConfig(cwd: string): string | undefined {
  let dir = cwd;
  for (;;) {
    for (const name of CONFIG_NAMES) {
      const file = join(dir, name);
      if (existsSync(file) && statSync(file).isFile()) return file;
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}
