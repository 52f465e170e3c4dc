import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('pnpm demo', () => {
  it('runs the main job end to end and exits 0', () => {
    const cwd = fileURLToPath(new URL('..', import.meta.url));
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'demo.ts'], { cwd, encoding: 'utf8', timeout: 180_000 });
    const tail = `signal ${r.signal}, error ${r.error?.message}\n--- stdout (end):\n${r.stdout?.slice(-3000)}\n--- stderr (end):\n${r.stderr?.slice(-3000)}`;
    expect(r.stderr, tail).not.toMatch(/Error/);
    expect(r.status, tail).toBe(0);
    expect(r.stdout).toContain('== Migrations');
    expect(r.stdout).toMatch(/event nodeDown: users_cluster\/replica-1/);
    expect(r.stdout).toMatch(/event nodeUp: users_cluster\/replica-1/);
    expect(r.stdout).toMatch(/failed reads: 0/);
    expect(r.stdout).toContain('== Stopping everything');
  });
});
