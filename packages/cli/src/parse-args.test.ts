import { PgmError } from '@pg-multiverse/core';
import { describe, expect, it } from 'vitest';
import { intFlag, parseArgs } from './parse-args.js';

function usage(fn: () => unknown): PgmError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PgmError);
    expect((err as PgmError).code).toBe('INVALID_ARGUMENT');
    return err as PgmError;
  }
  throw new Error('expected a usage error');
}

describe('parseArgs', () => {
  it('parses a command, its flags and global flags in any order', () => {
    const a = parseArgs([
      '--config',
      'x.json',
      'migrate',
      '--target',
      '20241230120000',
      '--schemas',
      'users, products',
      '--dry-run',
      '-v',
    ]);
    expect(a.command?.name).toBe('migrate');
    expect(a.flags).toEqual({
      config: 'x.json',
      target: '20241230120000',
      schemas: ['users', 'products'],
      'dry-run': true,
      verbose: true,
    });
  });

  it('keeps long numeric versions as strings', () => {
    expect(parseArgs(['rollback', '--target', '20241230110000']).flags.target).toBe('20241230110000');
  });

  it('merges repeated list flags', () => {
    expect(parseArgs(['status', '--schemas', 'a,b', '--schemas', 'b,c']).flags.schemas).toEqual(['a', 'b', 'c']);
  });

  it('keeps positionals and quoted descriptions', () => {
    const a = parseArgs(['create', 'add_roles', '--description', 'Add role-based permissions', '--tags', 't1,t2']);
    expect(a.positionals).toEqual(['add_roles']);
    expect(a.flags.description).toBe('Add role-based permissions');
    expect(a.flags.tags).toEqual(['t1', 't2']);
  });

  it('reads --no-color', () => {
    expect(parseArgs(['list', '--no-color']).flags.color).toBe(false);
  });

  it('suggests the nearest command', () => {
    const err = usage(() => parseArgs(['migrat']));
    expect(err.message).toContain('Unknown command "migrat". Did you mean "migrate"?');
    expect(err.details?.suggestion).toBe('migrate');
  });

  it('suggests the nearest flag', () => {
    expect(usage(() => parseArgs(['migrate', '--dryrun'])).message).toContain(
      'Unknown flag --dryrun for "pgm migrate". Did you mean "--dry-run"?',
    );
    expect(usage(() => parseArgs(['migrate', '--max-paralel', '2'])).message).toContain('"--max-parallel"');
  });

  it('rejects a flag of another command', () => {
    const err = usage(() => parseArgs(['status', '--dry-run']));
    expect(err.message).toContain('Flag --dry-run is not valid for "pgm status"');
  });

  it('rejects unknown short flags', () => {
    expect(usage(() => parseArgs(['list', '-z'])).message).toContain('Unknown flag -z');
  });

  it('requires values for value flags', () => {
    expect(usage(() => parseArgs(['migrate', '--target'])).message).toContain('--target needs a value');
    expect(usage(() => parseArgs(['status', '--schemas', ','])).message).toContain('at least one');
  });

  it('checks integer flags', () => {
    expect(intFlag(parseArgs(['rollback', '--steps', '3']).flags, 'steps')).toBe(3);
    expect(intFlag(parseArgs(['rollback']).flags, 'steps')).toBeUndefined();
    for (const bad of ['0', '-1', '1.5', 'two']) {
      const flags = parseArgs(['rollback', `--steps=${bad}`]).flags;
      expect(usage(() => intFlag(flags, 'steps')).message).toContain('positive whole number');
    }
  });
});
