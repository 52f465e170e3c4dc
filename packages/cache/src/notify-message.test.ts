import { describe, expect, it } from 'vitest';
import { chunkMessages, MAX_PAYLOAD_BYTES, parseMessage } from './notify-message.js';

describe('notify messages', () => {
  it('round-trips a small message', () => {
    const [p, ...rest] = chunkMessages('me', { tags: ['table:s.t', 'schema:s'], keys: ['k'] });
    expect(rest).toEqual([]);
    expect(parseMessage(p!)).toEqual({ from: 'me', body: { tags: ['table:s.t', 'schema:s'], keys: ['k'] } });
  });

  it('chunks large invalidations under the NOTIFY payload limit without losing a tag', () => {
    const tags = Array.from({ length: 2000 }, (_, i) => `table:schema_${i}.tbl_é_${i}`);
    const payloads = chunkMessages('me', { tags });
    expect(payloads.length).toBeGreaterThan(1);
    for (const p of payloads) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES);
    const got = payloads.flatMap((p) => parseMessage(p)!.body.tags ?? []);
    expect(got).toEqual(tags);
  });

  it('turns an oversized single tag into clear-all', () => {
    const payloads = chunkMessages('me', { tags: ['x'.repeat(9000)] });
    expect(payloads.map((p) => parseMessage(p)!.body)).toEqual([{ all: true }]);
  });

  it('ignores garbage', () => {
    expect(parseMessage('nope')).toBeUndefined();
    expect(parseMessage('{"t":[]}')).toBeUndefined();
  });
});
