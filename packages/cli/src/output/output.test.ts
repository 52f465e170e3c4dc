import { describe, expect, it } from 'vitest';
import { formatDuration, plural } from './format.js';
import { renderTable, visibleWidth } from './table.js';

describe('renderTable', () => {
  it('pads columns to the widest cell, right-aligns numbers and ignores colour codes', () => {
    const red = (s: string) => `\u001b[31m${s}\u001b[39m`;
    const out = renderTable(
      ['Cluster', 'Applied'],
      [
        ['users_cluster', '3'],
        [red('c'), '12'],
      ],
      { alignRight: [1] },
    );
    const lines = out.split('\n');
    expect(lines[0]).toBe('  Cluster        Applied');
    expect(lines[1]).toBe('  -------------  -------');
    expect(lines[2]).toBe('  users_cluster        3');
    expect(visibleWidth(lines[3]!)).toBe(visibleWidth(lines[2]!));
    expect(lines[3]!.endsWith('     12')).toBe(true);
  });
});

describe('formatDuration', () => {
  it('picks a readable unit', () => {
    expect(formatDuration(0)).toBe('0ms');
    expect(formatDuration(12.4)).toBe('12ms');
    expect(formatDuration(1234)).toBe('1.2s');
    expect(formatDuration(125_000)).toBe('2m 05s');
    expect(formatDuration(-1)).toBe('-');
  });
  it('pluralises', () => {
    expect(plural(1, 'migration')).toBe('1 migration');
    expect(plural(2, 'migration')).toBe('2 migrations');
  });
});
