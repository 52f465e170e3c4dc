import type { StatementShape } from './contracts/connection-provider.js';

/** True when `shape` asks for something (rowMode, types or a name). */
export function hasShape(shape: StatementShape | undefined): shape is StatementShape {
  return shape !== undefined && (shape.rowMode !== undefined || shape.types !== undefined || shape.name !== undefined);
}

/**
 * What to hand to `pg`'s `client.query`: the text alone when nothing is asked,
 * else a `QueryConfig` carrying the shape (so pg parses, types and names the statement).
 */
export function pgQueryOf(
  text: string,
  values: readonly unknown[] | undefined,
  shape: StatementShape | undefined,
): string | { text: string; values?: unknown[]; rowMode?: 'array'; types?: unknown; name?: string } {
  if (!hasShape(shape)) return text;
  const q: { text: string; values?: unknown[]; rowMode?: 'array'; types?: unknown; name?: string } = { text };
  if (values !== undefined) q.values = values as unknown[];
  if (shape.rowMode !== undefined) q.rowMode = shape.rowMode;
  if (shape.types !== undefined) q.types = shape.types;
  if (shape.name !== undefined) q.name = shape.name;
  return q;
}
