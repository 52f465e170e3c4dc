// Runs every bench/<name>/index.ts in turn; each prints one JSON line last.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
// soak/ is not a benchmark: `pnpm soak` (minutes of faults, pass/fail invariants).
const skip = new Set(['node_modules', 'soak']);
const names = readdirSync(here, { withFileTypes: true })
  .filter((d) => d.isDirectory() && !skip.has(d.name) && existsSync(join(here, d.name, 'index.ts')))
  .map((d) => d.name)
  .filter((n) => only.length === 0 || only.includes(n))
  .sort();
let failed = 0;
for (const name of names) {
  console.log(`\n# bench/${name}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, name, 'index.ts')], {
    stdio: 'inherit',
    cwd: here,
  });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
