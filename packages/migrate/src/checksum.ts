import { createHash } from 'node:crypto';

/** Normalise source text before hashing: no BOM, `\n` line endings, no trailing whitespace at the end. */
export function normalizeSource(source: string): string {
  return source
    .replace(/^\uFEFF/, '')
    .replace(/\r\n?/g, '\n')
    .replace(/\s+$/, '');
}

/** SHA-256 (hex) of normalised source: the same file checked out on Windows or Unix hashes the same. */
export function checksumOf(source: string): string {
  return createHash('sha256').update(normalizeSource(source)).digest('hex');
}
