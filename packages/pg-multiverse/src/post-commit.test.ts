import { describe, expect, it } from 'vitest';
import { PgMultiverse } from './pg-multiverse.js';

// The follow-up of a committed transaction reports its failures as 'error' events, never throws them,
// and never makes them an unhandled 'error' or a process warning.
type Reporter = { reportAfterCommit(txId: string | undefined, what: string, err: unknown): void };
const report = (pgm: PgMultiverse, id: string, what: string, err: Error) =>
  (pgm as unknown as Reporter).reportAfterCommit(id, what, err);

async function warningsDuring(fn: () => void): Promise<Array<Error & { code?: string }>> {
  const warnings: Array<Error & { code?: string }> = [];
  const onWarning = (w: Error & { code?: string }) => warnings.push(w);
  process.on('warning', onWarning);
  try {
    fn();
    await new Promise((r) => setImmediate(r)); // a process warning is delivered on a later tick
  } finally {
    process.off('warning', onWarning);
  }
  return warnings;
}

describe('POST_COMMIT_FAILED reporting', () => {
  it("goes to the application's 'error' listener, secrets removed", async () => {
    const pgm = new PgMultiverse();
    const seen: Array<{ code?: string; message: string; details?: unknown }> = [];
    pgm.on('error', (e) => seen.push(e));
    const warnings = await warningsDuring(() =>
      expect(() => report(pgm, 't1', 'invalidate the cache', new Error('boom'))).not.toThrow(),
    );
    expect(seen).toHaveLength(1);
    expect(seen[0]!.code).toBe('POST_COMMIT_FAILED');
    expect(seen[0]!.message).toMatch(/transaction t1 committed, but could not invalidate the cache: boom/);
    expect(seen[0]!.details).toEqual({ id: 't1' });
    expect(warnings.filter((w) => w.code === 'POST_COMMIT_FAILED')).toEqual([]);
  });

  it('without an application listener: not thrown, not a process warning (the facade listens itself)', async () => {
    const pgm = new PgMultiverse();
    expect(pgm.listenerCount('error')).toBe(1);
    const warnings = await warningsDuring(() =>
      expect(() => report(pgm, 't2', 'note the write position', new Error('down'))).not.toThrow(),
    );
    expect(warnings).toEqual([]);
  });

  it("never thrown, even with the facade's own listener removed or a listener that throws", async () => {
    const pgm = new PgMultiverse();
    pgm.removeAllListeners('error');
    expect(() => report(pgm, 't3', 'invalidate the cache', new Error('x'))).not.toThrow();
    pgm.on('error', () => {
      throw new Error('listener failed');
    });
    expect(() => report(pgm, 't4', 'invalidate the cache', new Error('y'))).not.toThrow();
  });
});
