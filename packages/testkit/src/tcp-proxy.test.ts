import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

/** Sends `text`, resolves with the reply, or with the socket's fate when none comes. */
function exchange(port: number, text: string, waitMs = 300): Promise<string> {
  return new Promise((resolve) => {
    const s: Socket = connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      s.destroy();
      resolve('no answer');
    }, waitMs);
    s.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(`error ${e.code}`);
    });
    s.on('connect', () => s.write(text));
    s.on('data', (d) => {
      clearTimeout(timer);
      s.destroy();
      resolve(String(d));
    });
  });
}

describe('startTcpProxy', () => {
  let echo: Server;
  let proxy: TcpProxy;
  beforeAll(async () => {
    echo = createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const addr = echo.address();
    proxy = await startTcpProxy(typeof addr === 'object' && addr ? addr.port : 0);
  });
  afterAll(async () => {
    await proxy.close();
    await new Promise((r) => echo.close(r));
  });

  it('forwards, refuses, black-holes and restores', async () => {
    expect(proxy.port).not.toBe(proxy.targetPort);
    expect(await exchange(proxy.port, 'hi')).toBe('hi');
    proxy.refuse();
    expect(await exchange(proxy.port, 'hi')).toBe('error ECONNRESET');
    proxy.blackhole();
    expect(await exchange(proxy.port, 'hi')).toBe('no answer');
    proxy.restore();
    expect(proxy.mode).toBe('pass');
    expect(await exchange(proxy.port, 'back')).toBe('back');
  });

  it('cuts open connections when switching to refuse', async () => {
    const s = connect({ host: '127.0.0.1', port: proxy.port });
    await new Promise((r) => s.on('connect', r));
    const closed = new Promise<string>((resolve) => {
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      s.on('close', () => resolve('closed'));
    });
    s.write('x');
    await new Promise((r) => s.once('data', r));
    proxy.refuse();
    expect(['ECONNRESET', 'closed']).toContain(await closed);
    proxy.restore();
  });
});
