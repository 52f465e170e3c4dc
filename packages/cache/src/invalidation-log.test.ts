import { describe, expect, it } from 'vitest';
import { createInvalidationLog } from './invalidation-log.js';

describe('invalidation log', () => {
  it('tells whether a key or tag was touched since a generation', () => {
    const log = createInvalidationLog(8);
    const g = log.generation();
    expect(log.touchedSince(g, 'k', ['t'])).toBe(false);
    log.record({ tags: ['other'] });
    expect(log.touchedSince(g, 'k', ['t'])).toBe(false);
    log.record({ keys: ['k'] });
    expect(log.touchedSince(g, 'k', ['t'])).toBe(true);
    const g2 = log.generation();
    log.record({ tags: ['t'] });
    expect(log.touchedSince(g2, 'x', ['t'])).toBe(true);
    const g3 = log.generation();
    log.record({ all: true });
    expect(log.touchedSince(g3, 'x', [])).toBe(true);
  });

  it('assumes a race once the window is exceeded', () => {
    const log = createInvalidationLog(4);
    const g = log.generation();
    for (let i = 0; i < 4; i++) log.record({ tags: [`o${i}`] });
    expect(log.touchedSince(g, 'k', ['t'])).toBe(true);
  });
});
