import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runNode } from './run-child.js';

describe('pnpm demo', () => {
  // The demo starts its own topology and injects a fault: minutes on a loaded machine. Its own
  // watchdog (480 s) says which step hung; the bounds here are only above it.
  it('runs the main job end to end and exits 0', { timeout: 660_000 }, async () => {
    const cwd = fileURLToPath(new URL('..', import.meta.url));
    const r = await runNode(['--import', 'tsx', 'demo.ts'], { cwd, timeoutMs: 600_000 });
    const tail = `signal ${r.signal}\n--- stdout (end):\n${r.stdout.slice(-3000)}\n--- stderr (end):\n${r.stderr.slice(-3000)}`;
    expect(r.stderr, tail).not.toMatch(/Error/);
    expect(r.status, tail).toBe(0);
    expect(r.stdout).toContain('== Migrations');
    expect(r.stdout).toMatch(/event nodeDown: users_cluster\/replica-1/);
    expect(r.stdout).toMatch(/event nodeUp: users_cluster\/replica-1/);
    expect(r.stdout).toMatch(/failed reads: 0/);
    expect(r.stdout).toContain('== Stopping everything');
  });
});
