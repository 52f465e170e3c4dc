// Type tests: checked by `tsc` in `pnpm test` (turbo typecheck); every `@ts-expect-error` below must
// be an error, or tsc fails ("unused directive").
import type { QueryCacheEvents } from '@pg-multiverse/cache';
import type { RouterEvents } from '@pg-multiverse/router';
import type { TransactionEvents } from '@pg-multiverse/tx';
import type { PgMultiverse, PgMultiverseEvents } from 'pg-multiverse';
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
