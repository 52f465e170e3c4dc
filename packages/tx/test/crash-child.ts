import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ClusterConn } from './helpers.js';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));

export interface ChildRun {
  txid: string;
  exitSignal: NodeJS.Signals | null;
}

/**
 * Run a cross-cluster transaction in a separate node process that pauses at
 * `pauseAt` (after PREPARE or after the commit decision), then SIGKILL it.
 */
export async function runAndKillCoordinator(spec: {
  primaries: Record<string, ClusterConn>;
  schemas: Record<string, string[]>;
  ownerId: string;
  decisionSchema: string;
  pauseAt: 'afterPrepare' | 'afterDecision';
  rowId: number;
}): Promise<ChildRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/crash-child.ts'], {
    cwd: pkgDir,
    env: { ...process.env, PGM_CHILD_SPEC: JSON.stringify(spec), TSX_TSCONFIG_PATH: 'test/fixtures/tsconfig.json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += String(d);
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  const lines = createInterface({ input: child.stdout });
  let txid: string | undefined;
  for await (const line of lines) {
    if (line.startsWith('PAUSED ')) {
      txid = line.slice(7).trim();
      break;
    }
  }
  if (!txid) {
    await exited;
    throw new Error(`crash child ended without pausing: ${stderr}`);
  }
  child.kill('SIGKILL');
  const exitSignal = await exited;
  return { txid, exitSignal };
}
