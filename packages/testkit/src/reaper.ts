import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BIN_BUILD_PREFIX, BIN_CACHE_PREFIX } from './binaries.js';
import { isProcessAlive } from './process-alive.js';
import { baseTmpDir, binCacheDir } from './tmp-base.js';

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
 * and is removed. Staging directories of template builds and binary copies
 * older than an hour go too, and so do copies of binaries whose source
 * directory is gone (e.g. a deleted checkout). Without `dir`, it looks in
 * `baseTmpDir()` and `binCacheDir()`. Returns the directories removed.
 */
export function reapOrphans(dir?: string): string[] {
  if (dir === undefined) {
    return [...new Set([baseTmpDir(), binCacheDir()])].flatMap((d) => reapOrphans(d));
  }
  const removed: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return removed;
  }
  const remove = (path: string) => {
    rmSync(path, { recursive: true, force: true });
    removed.push(path);
  };
  for (const name of entries) {
    const path = join(dir, name);
    if (name.startsWith('pgm-testkit-template-build-') || name.startsWith(BIN_BUILD_PREFIX)) {
      try {
        if (Date.now() - statSync(path).mtimeMs > 3_600_000) remove(path);
      } catch {}
      continue;
    }
    if (name.startsWith(BIN_CACHE_PREFIX)) {
      try {
        const source = readFileSync(join(path, 'source'), 'utf8').trim();
        if (source && !existsSync(source)) remove(path);
      } catch {} // no source file: not a copy of ours
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
    remove(path);
  }
  return removed;
}
