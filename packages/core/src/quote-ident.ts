import { PgmError } from './errors.js';

/**
 * Quote a PostgreSQL identifier (schema, table, column) for safe inclusion in
 * SQL text. Always quotes, doubling embedded double quotes, so `Users` stays
 * case-sensitive and `a"b` cannot break out.
 *
 * @example quoteIdent('users') // => "users"
 */
export function quoteIdent(name: string): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new PgmError('INVALID_ARGUMENT', `quoteIdent: expected a non-empty identifier, got ${JSON.stringify(name)}`);
  }
  if (name.includes('\u0000')) {
    throw new PgmError('INVALID_ARGUMENT', 'quoteIdent: identifiers cannot contain NUL characters');
  }
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quote a possibly schema-qualified name: `quoteQualified('s', 't')` => `"s"."t"`. */
export function quoteQualified(...parts: string[]): string {
  return parts.map(quoteIdent).join('.');
}

/** Quote a string literal (standard_conforming_strings on). Prefer parameters; use for DDL only. */
export function quoteLiteral(value: string): string {
  if (value.includes('\u0000')) {
    throw new PgmError('INVALID_ARGUMENT', 'quoteLiteral: strings cannot contain NUL characters');
  }
  return `'${value.replace(/'/g, "''")}'`;
}
