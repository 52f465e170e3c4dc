import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { TestkitError } from './errors.js';
import { freePort } from './free-port.js';

export interface RedisHandle {
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** PID of the redis-server we started; undefined when REDIS_URL was used. */
  readonly pid: number | undefined;
  /** True when this handle started the server (false: REDIS_URL). */
  readonly owned: boolean;
  stop(): Promise<void>;
  /** For exit handlers. */
  killSync(): void;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.on('error', () => done(false));
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      buf += d;
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

/**
 * A throwaway `redis-server` on a free loopback port, without persistence.
 * With `REDIS_URL` set (and `useEnv` not false) that server is used instead.
 */
export async function startRedis(opts: { useEnv?: boolean; binary?: string } = {}): Promise<RedisHandle> {
  const envUrl = process.env.REDIS_URL;
  if (envUrl && opts.useEnv !== false) {
    const port = Number(new URL(envUrl).port || 6379);
    return { url: envUrl, port, pid: undefined, owned: false, stop: async () => {}, killSync: () => {} };
  }
  let lastErr = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child: ChildProcess = spawn(
      opts.binary ?? 'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout?.on('data', (d) => (output += d));
    child.stderr?.on('data', (d) => (output += d));
    let exited = false;
    const exitedP = new Promise<void>((resolve) => {
      child.on('exit', () => {
        exited = true;
        resolve();
      });
      child.on('error', (err) => {
        exited = true;
        output += err.message;
        resolve();
      });
    });
    // A port taken since it was picked makes redis-server exit at once (then another port); a slow
    // start on a loaded machine is waited for.
    const deadline = Date.now() + 60_000;
    while (!exited && Date.now() < deadline && !(await ping(port))) await new Promise((r) => setTimeout(r, 20));
    if (!exited && Date.now() < deadline) {
      child.unref();
      (child.stdout as { unref?: () => void } | null)?.unref?.();
      (child.stderr as { unref?: () => void } | null)?.unref?.();
      return {
        url: `redis://127.0.0.1:${port}`,
        port,
        pid: child.pid,
        owned: true,
        async stop() {
          if (exited) return;
          child.kill('SIGTERM');
          const t = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exitedP;
          clearTimeout(t);
        },
        killSync() {
          if (!exited) child.kill('SIGKILL');
        },
      };
    }
    child.kill('SIGKILL');
    lastErr = output.trim().slice(-1000);
  }
  throw new TestkitError(`cannot start redis-server (is it installed? apt-get install redis-server): ${lastErr}`);
}
