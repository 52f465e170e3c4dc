import { quoteIdent } from './quote-ident.js';

/**
 * The search_path a statement for `schema` runs with: the schema first, then
 * `public` (once, when the schema is `public` itself). One rule for the
 * router, transactions and migrations.
 */
export function searchPathFor(schema: string): string {
  return schema === 'public' ? quoteIdent(schema) : `${quoteIdent(schema)}, public`;
}
