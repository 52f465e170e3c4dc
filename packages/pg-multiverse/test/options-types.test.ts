// Type tests (checked by tsc in `pnpm test`): every option of `new PgMultiverse()` and `createRouter()`
// is known to core's validation, and core knows no option the types lack. An option added to one and
// not the other fails to compile here, instead of being refused as unknown at run time.
import type { FACADE_KEYS, ROUTER_KEYS } from '@pg-multiverse/core';
import type { RouterOptions } from '@pg-multiverse/router';
import type { PgMultiverseOptions } from 'pg-multiverse';
import { describe, expectTypeOf, it } from 'vitest';

describe('option keys validated by core match the option types', () => {
  it('PgMultiverseOptions <-> FACADE_KEYS, RouterOptions <-> ROUTER_KEYS', () => {
    expectTypeOf<Exclude<keyof PgMultiverseOptions, (typeof FACADE_KEYS)[number]>>().toEqualTypeOf<never>();
    expectTypeOf<Exclude<(typeof FACADE_KEYS)[number], keyof PgMultiverseOptions>>().toEqualTypeOf<never>();
    expectTypeOf<Exclude<keyof RouterOptions, (typeof ROUTER_KEYS)[number]>>().toEqualTypeOf<never>();
    expectTypeOf<Exclude<(typeof ROUTER_KEYS)[number], keyof RouterOptions>>().toEqualTypeOf<never>();
  });
});
