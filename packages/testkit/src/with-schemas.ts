import { TestkitError } from './errors.js';

type AnyNode = Record<string, unknown> | string;
const copyNode = (n: AnyNode): AnyNode => (typeof n === 'string' ? n : { ...n });

/**
 * A copy of `config` in which each named cluster owns the given schemas
 * instead of its own; clusters not named are dropped. Use it to give a test
 * its own schema names on the shared topology:
 * `withSchemas(config, { users_cluster: [uniqueName('u')] })`.
 */
export function withSchemas<C extends Record<string, { schemas: string[] }>>(
  config: C,
  schemas: Partial<Record<keyof C & string, readonly string[]>>,
): C {
  const out: Record<string, unknown> = {};
  for (const [id, list] of Object.entries(schemas)) {
    const cluster = config[id] as unknown as Record<string, unknown> | undefined;
    if (!cluster) {
      throw new TestkitError(`withSchemas: unknown cluster "${id}"; clusters: ${Object.keys(config).join(', ')}`);
    }
    const copy: Record<string, unknown> = { ...cluster, schemas: [...(list as readonly string[])] };
    if (cluster.primary !== undefined) copy.primary = copyNode(cluster.primary as AnyNode);
    if (Array.isArray(cluster.replicas)) copy.replicas = (cluster.replicas as AnyNode[]).map(copyNode);
    out[id] = copy;
  }
  return out as C;
}
