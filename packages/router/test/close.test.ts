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
  // Safety net only, counted from close() (starting tsx on a loaded machine may take long): a process
  // still alive this long after it closed has leaked a handle.
  let killer: NodeJS.Timeout | undefined;
  const onData = (d: Buffer) => {
    out += d;
    if (!killer && out.includes('closed')) killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(killer);
  expect(out).toContain('closed');
  expect(code).toBe(0);
});
