import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { withSchemas } from '@pg-multiverse/testkit';
import { expect, inject, it } from 'vitest';

const ctx = inject('pgmTopology');

it('close() leaves no handles: the process exits by itself right after', async () => {
  const config = withSchemas(ctx.config, { users_cluster: ['users'] });
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('./fixtures/close-exits.ts', import.meta.url))],
    { env: { ...process.env, PGM_CONFIG: JSON.stringify(config) }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  // Safety net only: a process still alive after this long has leaked a handle.
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(killer);
  expect(out).toContain('closed');
  expect(code).toBe(0);
});
