import { readFileSync } from 'node:fs';

/**
 * Whether a process exists and is not a zombie. (In containers whose PID 1
 * does not reap orphans, a stopped postmaster can linger as a zombie: dead,
 * but still answering `kill(pid, 0)`.)
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return process.platform !== 'linux';
  }
}
