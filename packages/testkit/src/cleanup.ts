/**
 * Last-resort cleanup: on process exit, SIGINT or SIGTERM, every live
 * topology of this process is stopped synchronously (pg_ctl stop -m immediate,
 * then SIGKILL) and its temp directory removed.
 */
const live = new Set<() => void>();
let installed = false;

function runAll(): void {
  for (const fn of [...live]) {
    try {
      fn();
    } catch {}
  }
  live.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  runAll();
  process.removeListener(signal, onSignal);
  // Nobody else handles it: behave like the default (terminate with the signal).
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

export function registerCleanup(fn: () => void): () => void {
  if (!installed) {
    installed = true;
    process.on('exit', runAll);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  live.add(fn);
  return () => {
    live.delete(fn);
  };
}
