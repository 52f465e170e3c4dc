import { describe, expect, it, vi } from 'vitest';
import { createNotifyBus } from './notify-bus.js';

describe('createNotifyBus', () => {
  it('needs a connect function', () => {
    expect(() => createNotifyBus({} as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('keeps retrying after a failed first connect, reports it without secrets, and stops on close', async () => {
    let attempts = 0;
    const bus = createNotifyBus({
      connect: () => {
        attempts++;
        throw new Error('cannot reach postgres://app:s3cret@db:5432/app');
      },
      reconnectDelayMs: 5,
      maxReconnectDelayMs: 10,
    });
    const errors: string[] = [];
    bus.on('error', (e) => errors.push(e!.error.message));
    await bus.start();
    expect(bus.connected).toBe(false);
    // awaited as a condition (a generous bound, not a timing assumption: retries may run late on a busy machine)
    await vi.waitFor(() => expect(attempts).toBeGreaterThanOrEqual(3), { timeout: 60_000, interval: 5 });
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.join('\n')).not.toContain('s3cret');
    await bus.close();
    const after = attempts;
    await new Promise((r) => setTimeout(r, 50));
    expect(attempts).toBe(after);
  });
});
