import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isProcessAlive } from './process-alive.js';
import { baseTmpDir } from './tmp-base.js';

interface PidsFile {
  owner: number;
  postgres?: { pid?: number; dataDir?: string }[];
  redis?: number;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

function killIf(pid: number | undefined, matches: (cmd: string) => boolean): boolean {
  if (!pid || !isProcessAlive(pid) || !matches(cmdline(pid))) return false;
  try {
    process.kill(pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}

/**
 * Cleans up after testkit processes that died without stopping their
 * topologies (e.g. a SIGKILLed test worker): every `pgm-testkit-*` directory
 * whose `pids.json` names an owner process that is gone has its servers
 * killed (only processes whose command line matches what the kit started)
 * and is removed. Staging directories of template builds older than an hour
 * go too. Returns the directories removed.
 */
export function reapOrphans(dir: string = baseTmpDir()): string[] {
  const removed: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of entries) {
    const path = join(dir, name);
    if (name.startsWith('pgm-testkit-template-build-')) {
      try {
        if (Date.now() - statSync(path).mtimeMs > 3_600_000) {
          rmSync(path, { recursive: true, force: true });
          removed.push(path);
        }
      } catch {}
      continue;
    }
    if (!name.startsWith('pgm-testkit-') || name.startsWith('pgm-testkit-template-')) continue;
    let pids: PidsFile;
    try {
      pids = JSON.parse(readFileSync(join(path, 'pids.json'), 'utf8')) as PidsFile;
    } catch {
      continue; // starting right now, or not ours
    }
    if (!pids.owner || isProcessAlive(pids.owner)) continue;
    for (const n of pids.postgres ?? []) {
      killIf(n.pid, (cmd) => cmd.includes('postgres') && !!n.dataDir && cmd.includes(n.dataDir));
    }
    killIf(pids.redis, (cmd) => cmd.includes('redis-server'));
    rmSync(path, { recursive: true, force: true });
    removed.push(path);
  }
  return removed;
}
