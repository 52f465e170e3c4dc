import { describe, expect, it } from 'vitest';
import { progressLine } from './reshard-cli.js';

describe('progressLine', () => {
  it('draws a bar of the rows copied, with bytes and lag', () => {
    const line = progressLine({
      moveId: 'm',
      cluster: 'orders',
      source: 'shard-0',
      target: 'shard-2',
      partitions: [3],
      phase: 'copy',
      rowsTotal: 1000,
      rowsCopied: 250,
      bytesCopied: 3 * 1024 * 1024,
      lagBytes: 2048,
      tablesReady: 0,
      tablesTotal: 2,
    });
    expect(line).toBe(
      '[######..................]  25% shard-0 -> shard-2 copy: 250/1000 rows, 3.0 MB, lag 2.0 kB, tables 0/2',
    );
  });
});
