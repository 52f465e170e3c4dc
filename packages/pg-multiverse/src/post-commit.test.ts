import { describe, expect, it } from 'vitest';
import { PgMultiverse } from './pg-multiverse.js';

// The follow-up of a committed transaction reports its failures, never throws them.
type Reporter = { reportAfterCommit(txId: string | undefined, what: string, err: unknown): void };

describe('POST_COMMIT_FAILED reporting', () => {
  it("goes to the application's 'error' listener", () => {
    const pgm = new PgMultiverse();
    const seen: Array<{ code?: string; message: string }> = [];
    pgm.on('error', (e) => seen.push(e as { code?: string; message: string }));
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      expect(() =>
        (pgm as unknown as Reporter).reportAfterCommit('t1', 'invalidate the cache', new Error('boom')),
      ).not.toThrow();
      expect(seen).toHaveLength(1);
      expect(seen[0]!.code).toBe('POST_COMMIT_FAILED');
      expect(seen[0]!.message).toMatch(/transaction t1 committed, but could not invalidate the cache: boom/);
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => (w as { code?: string }).code === 'POST_COMMIT_FAILED')).toHaveLength(0);
  });

  it('is a process warning when the application does not listen to error (never thrown)', async () => {
    const pgm = new PgMultiverse();
    const warnings: Array<Error & { code?: string }> = [];
    const onWarning = (w: Error & { code?: string }) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      expect(() =>
        (pgm as unknown as Reporter).reportAfterCommit('t2', 'note the write position', new Error('down')),
      ).not.toThrow();
      await new Promise((r) => setImmediate(r)); // emitWarning delivers on a later tick
      const w = warnings.find((x) => x.code === 'POST_COMMIT_FAILED');
      expect(w?.message).toMatch(/transaction t2 committed, but could not note the write position: down/);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
