// CI's version of `pnpm soak`: 60 s of mixed-fault workload in a child process (it starts
// its own topology), then every invariant of its JSON line must hold.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = fileURLToPath(new URL('.', import.meta.url));

interface SoakResult {
  ok: boolean;
  failed: string[];
  invariants: Record<string, boolean>;
  transfers: Record<string, unknown> & { committed: number; half_committed: number; rejected_but_committed: number };
  stale: Record<string, number>;
  faults: Record<string, unknown> & { total: number; coordinator_kill: number };
  recovery: { prepared_left: Record<string, number> };
  unhandled_rejections: number;
}

function runSoak(): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'index.ts'], {
      cwd: here,
      env: { ...process.env, SOAK_MS: '60000', TSX_TSCONFIG_PATH: `${here}tsconfig.json` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += String(d);
    });
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

describe('soak (SOAK_MS=60000)', () => {
  it('keeps every invariant under mixed faults', { timeout: 900_000 }, async () => {
    const run = await runSoak();
    const line = run.stdout
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .pop();
    const context = `exit ${run.code} ${run.signal ?? ''}\n--- stdout:\n${run.stdout.slice(-6000)}\n--- stderr (end):\n${run.stderr.slice(-4000)}`;
    expect(line, context).toBeDefined();
    const result = JSON.parse(line!) as SoakResult;
    // One assertion per invariant, so a failure names what broke (the whole line is in `context`).
    expect(result.transfers.half_committed, context).toBe(0);
    expect(result.transfers.rejected_but_committed, context).toBe(0);
    expect(result.recovery.prepared_left, context).toEqual(
      Object.fromEntries(Object.keys(result.recovery.prepared_left).map((k) => [k, 0])),
    );
    expect(result.stale, context).toEqual(Object.fromEntries(Object.keys(result.stale).map((k) => [k, 0])));
    expect(result.unhandled_rejections, context).toBe(0);
    expect(result.transfers.committed, context).toBeGreaterThan(0);
    expect(result.faults.coordinator_kill, context).toBeGreaterThan(0);
    expect(result.invariants, context).toEqual(
      Object.fromEntries(Object.keys(result.invariants).map((k) => [k, true])),
    );
    expect(result.failed, context).toEqual([]);
    expect(result.ok, context).toBe(true);
    expect(run.code, context).toBe(0);
  });
});
