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
  transfers: Record<string, unknown> & {
    committed: number;
    half_committed: number;
    rejected_but_committed: number;
    committed_but_missing: number;
  };
  stale: Record<string, number>;
  reads: Record<string, unknown>;
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
    // Soft assertions: one run reports every broken invariant, each with the figures behind it.
    const why = (name: string, figures: unknown) => `invariant ${name}: ${JSON.stringify(figures)}`;
    const t = result.transfers;
    expect.soft(t.half_committed, why('no_half_committed', t)).toBe(0);
    expect.soft(t.rejected_but_committed, why('no_rejected_but_committed', t)).toBe(0);
    expect.soft(t.committed_but_missing, why('no_committed_but_missing', t)).toBe(0);
    const prepared = Object.values(result.recovery.prepared_left).reduce((a, b) => a + b, 0);
    expect.soft(prepared, why('no_prepared_left', result.recovery)).toBe(0);
    for (const [kind, n] of Object.entries(result.stale)) {
      expect.soft(n, why(`no_stale_reads (${kind})`, result.reads[kind])).toBe(0);
    }
    expect.soft(result.unhandled_rejections, why('no_unhandled_rejections', result)).toBe(0);
    expect.soft(t.committed, why('workload_ran', t)).toBeGreaterThan(0);
    expect.soft(result.faults.coordinator_kill, why('workload_ran', result.faults)).toBeGreaterThan(0);
    for (const [name, ok] of Object.entries(result.invariants))
      expect.soft(ok, why(name, result.invariants)).toBe(true);
    expect(result.failed, context).toEqual([]);
    expect(result.ok, context).toBe(true);
    expect(run.code, context).toBe(0);
  });
});
