import { randomBytes } from 'node:crypto';

let counter = 0;

/**
 * A lower-case identifier that no other test (or process) of the run uses:
 * `<prefix>_<pid36>_<counter>_<random>`, at most 63 bytes (PostgreSQL's limit).
 */
export function uniqueName(prefix = 't'): string {
  const clean = prefix.toLowerCase().replace(/[^a-z0-9_]/g, '_') || 't';
  counter += 1;
  const suffix = `${process.pid.toString(36)}_${counter.toString(36)}_${randomBytes(3).toString('hex')}`;
  return `${clean.slice(0, 63 - suffix.length - 1)}_${suffix}`;
}
