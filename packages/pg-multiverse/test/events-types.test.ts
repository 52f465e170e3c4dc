// Type tests: checked by `tsc` in `pnpm test` (turbo typecheck); every `@ts-expect-error` below must
// be an error, or tsc fails ("unused directive").
import type { QueryCacheEvents } from '@pg-multiverse/cache';
import type { RouterEvents } from '@pg-multiverse/router';
import type { TransactionEvents } from '@pg-multiverse/tx';
import { PgMultiverse, type PgMultiverseEvents } from 'pg-multiverse';
import { describe, expect, expectTypeOf, it } from 'vitest';

function compileOnly(pgm: PgMultiverse): void {
  pgm.on('splitBrain', (e) => e.primaries.length);
  // @ts-expect-error the router sends `primaries`, not `nodes`
  pgm.on('splitBrain', (e) => e.nodes.length);
  // @ts-expect-error misspelt event name
  pgm.on('nodeDwn', () => {});
  // @ts-expect-error misspelt event name
  pgm.once('cacheHits', () => {});
  // @ts-expect-error misspelt payload field
  pgm.off('nodeDown', (e) => e.node);
  pgm.on('nodeDown', (e) => e.failureCount + e.nodeId.length);
  pgm.on('queryExecuted', (e) => e.durationMs);
  pgm.on('cacheMiss', (e) => e.unfit);
  pgm.on('transactionCommitted', (e) => e.id);
  pgm.on('migrationCompleted', (e) => e.duration);
  pgm.on('error', (e) => e.code);
  // @ts-expect-error only known events can be emitted
  pgm.emit('nodeDwn', {});
}

describe('PgMultiverse events are the packages’ own', () => {
  it('payload types come from the emitting package', () => {
    expectTypeOf<PgMultiverseEvents['splitBrain']>().toEqualTypeOf<RouterEvents['splitBrain'][0]>();
    expectTypeOf<PgMultiverseEvents['queryExecuted']>().toEqualTypeOf<RouterEvents['queryExecuted'][0]>();
    expectTypeOf<PgMultiverseEvents['cacheMiss']>().toEqualTypeOf<QueryCacheEvents['cacheMiss']>();
    expectTypeOf<PgMultiverseEvents['recoveryFailed']>().toEqualTypeOf<TransactionEvents['recoveryFailed'][0]>();
    expect(typeof compileOnly).toBe('function');
  });
});

describe('forwarded payloads are redacted', () => {
  it('an error inside a forwarded payload loses the configured passwords (message, stack and causes)', () => {
    const pgm = new PgMultiverse();
    const inner = pgm as unknown as { secrets: string[]; redactPayload<P>(p: P): P };
    inner.secrets = ['hunter22-pw'];
    const cause = new Error('login as app:hunter22-pw failed');
    const error = new Error('recovery could not reach postgres://app:hunter22-pw@db/app', { cause });
    const payload = inner.redactPayload({ clusterId: 'c', error });
    expect(payload.error.message).not.toContain('hunter22-pw');
    expect(String(payload.error.stack)).not.toContain('hunter22-pw');
    expect(cause.message).not.toContain('hunter22-pw');
  });
});
