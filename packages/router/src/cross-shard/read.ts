import type { FieldInfo, QueryResult, ResultOrigin } from '@pg-multiverse/core';
import type { Plan } from '../planner.js';
import { RoutedQueryResult } from '../routed-result.js';
import type { GroupRuntime } from '../topology.js';
import type { RoutedResult, RouteInfo } from '../types.js';
import { countValue, MergeRefused, mergeRows, ordersText, type ShardRows } from './merge.js';
import { crossShardRefusal } from './refusal.js';
import { type MergeSpec, type Refused, rewriteCrossShardRead } from './rewrite.js';
import { withStrayFilter } from './stray-filter.js';

export interface CrossShardReadDeps {
  /** The executor's own `execute` (holds, node choice, read retries) for each shard's quiet plan. */
  execute: <R>(p: Plan, params: readonly unknown[] | undefined) => Promise<RoutedResult<R>>;
  /** Report the whole statement once (`queryExecuted` with `shardIds`). */
  emitExecuted: (route: RouteInfo, sql: string, schema: string | undefined, ok: boolean, err?: unknown) => void;
  /** The partition filter of a shard holding stray rows, else undefined (see stray-filter.ts). */
  strayFilter: (clusterId: string, shardId: string) => string | undefined;
}

const specs = new Map<string, MergeSpec | Refused>();

/** The rewrite of a text, memoized (bounded: cleared when large). */
function specFor(sql: string, colocated: boolean): MergeSpec | Refused {
  const key = `${colocated ? 1 : 0}${sql}`;
  let s = specs.get(key);
  if (s === undefined) {
    s = rewriteCrossShardRead(sql, colocated);
    if (specs.size > 2000) specs.clear();
    specs.set(key, s);
  }
  return s;
}

/** The per-shard text and its parameters (renumbered: only those the text still uses). */
function shardStatement(
  spec: MergeSpec,
  params: readonly unknown[] | undefined,
): { text: string; values: unknown[] | undefined } {
  const map = new Map<number, number>();
  const values: unknown[] = [];
  let text = '';
  for (const part of spec.parts) {
    if (typeof part === 'string') {
      text += part;
      continue;
    }
    let n = map.get(part.param);
    if (n === undefined) {
      n = values.length + 1;
      map.set(part.param, n);
      values.push(params?.[part.param - 1]);
    }
    text += `$${n}`;
  }
  if (spec.pushLimit) {
    const limit = countValue(spec.limit, params, 'LIMIT');
    const offset = countValue(spec.offset, params, 'OFFSET') ?? 0;
    if (limit !== undefined) text += ` LIMIT ${limit + offset}`;
  }
  return { text, values: values.length > 0 || params !== undefined ? values : undefined };
}

/** Database collation per group: the merge orders text by code point, right only under C/POSIX. */
const collations = new WeakMap<GroupRuntime, Promise<string>>();

function collationOf(g: GroupRuntime): Promise<string> {
  let c = collations.get(g);
  if (!c) {
    c = g.primary.provider
      .query<{ d: Record<string, string> }>(
        'SELECT to_jsonb(d) AS d FROM pg_database d WHERE datname = current_database()',
      )
      .then((r) => {
        const d = r.rows[0]?.d ?? {};
        return d.datlocprovider !== undefined && d.datlocprovider !== 'c'
          ? `icu ${d.daticulocale ?? ''}`
          : String(d.datcollate);
      });
    c.catch(() => collations.delete(g));
    collations.set(g, c);
  }
  return c;
}

function combinedOrigin(routes: RouteInfo[]): ResultOrigin | undefined {
  if (routes.some((r) => r.origin === undefined)) return undefined;
  if (routes.every((r) => r.origin!.role === 'primary')) return { role: 'primary', lagMs: 0 };
  const lags = routes.map((r) => (r.origin!.role === 'primary' ? 0 : r.origin!.lagMs));
  const origin: ResultOrigin = { role: 'replica' };
  if (lags.every((l) => l !== undefined)) origin.lagMs = Math.max(...(lags as number[]));
  return origin;
}

/**
 * Runs a cross-shard read: each shard involved gets the rewritten statement
 * concurrently (through its replicas or primary per the plan's consistency,
 * with the read retry rules), and the rows are merged as one database would
 * return them. A shard that cannot answer fails the read, unless the plan
 * allows partial results (then `route.partial` and `route.failedShards`).
 */
export function createCrossShardReader(deps: CrossShardReadDeps) {
  return async function crossShardRead<R>(p: Plan, params: readonly unknown[] | undefined): Promise<RoutedResult<R>> {
    const t0 = performance.now();
    const baseRoute = (): RouteInfo => ({
      clusterId: p.clusterId,
      nodeId: p.g.primary.id,
      role: 'primary',
      reason: 'cross-shard',
      kind: 'read',
      durationMs: performance.now() - t0,
      retried: false,
      ...(p.shardIds ? { shardIds: [...p.shardIds], shardId: p.shardIds[0]! } : {}),
    });
    const fail = (err: unknown, route: RouteInfo = baseRoute()): never => {
      deps.emitExecuted(route, p.sql, p.schema, false, err);
      throw err;
    };
    const refused = (r: Refused) => fail(crossShardRefusal(p, r.refused, r.why));
    const colocated = p.shardAnalysis?.colocated ?? true;
    const spec = specFor(p.sql, colocated);
    if ('refused' in spec) return refused(spec);
    let stmt: { text: string; values: unknown[] | undefined };
    try {
      stmt = shardStatement(spec, params);
    } catch (err) {
      return err instanceof MergeRefused ? refused(err.refusal) : fail(err);
    }
    // Shards holding stray rows of partitions they do not own (a partition move) read only their own.
    const texts: string[] = [];
    for (const g of p.groups) {
      const pred = g.shardId === undefined ? undefined : deps.strayFilter(p.clusterId, g.shardId);
      if (pred === undefined) {
        texts.push(stmt.text);
        continue;
      }
      const tables = p.analysis.statements[0] ? [...p.analysis.statements[0].read] : [];
      const f = withStrayFilter(stmt.text, pred, tables);
      if ('refused' in f) {
        return refused({
          refused: `${f.refused} while shard "${g.shardId}" holds stray rows of a partition move`,
          why: 'only a read of one table can be filtered to the partitions each shard owns; pass { shardKey }, or run it after the move cleanup',
        });
      }
      texts.push(f.text);
    }
    const settled = await Promise.allSettled(
      p.groups.map((g, i) => deps.execute<Record<string, unknown>>(p.forGroup(g, texts[i]!), stmt.values)),
    );
    const ok: Array<{ g: GroupRuntime; res: RoutedResult<Record<string, unknown>> }> = [];
    const failed: Array<{ g: GroupRuntime; err: unknown }> = [];
    settled.forEach((s, i) => {
      if (s.status === 'fulfilled') ok.push({ g: p.groups[i]!, res: s.value });
      else failed.push({ g: p.groups[i]!, err: s.reason });
    });
    if (failed.length > 0 && (!p.allowPartial || ok.length === 0)) fail(failed[0]!.err);
    const routes = ok.map((o) => o.res.route);
    const shards: ShardRows[] = ok.map((o) => ({ fields: o.res.fields as FieldInfo[], rows: o.res.rows }));
    let merged: { fields: FieldInfo[]; rows: unknown[] };
    try {
      const fields = shards.find((s) => s.fields.length > 0)?.fields ?? [];
      if (ordersText(spec, fields)) {
        const cs = await Promise.all(ok.map((o) => collationOf(o.g)));
        const bad = cs.find((c) => !['C', 'POSIX', 'ucs_basic'].includes(c));
        if (bad !== undefined) {
          return refused({
            refused: 'ordering text',
            why: `the database collation is ${bad}; the merge orders text by code point (the C collation) only`,
          });
        }
      }
      merged = mergeRows(spec, shards, params);
    } catch (err) {
      return err instanceof MergeRefused ? refused(err.refusal) : fail(err);
    }
    const route: RouteInfo = {
      ...baseRoute(),
      nodeId: routes[0]!.nodeId,
      nodeIds: routes.map((r) => r.nodeId),
      shardIds: ok.map((o) => o.g.shardId!),
      role: routes.every((r) => r.role === 'primary') ? 'primary' : 'replica',
      retried: routes.some((r) => r.retried),
      durationMs: performance.now() - t0,
    };
    if (route.shardIds![0] !== undefined) route.shardId = route.shardIds![0];
    if (failed.length > 0) {
      route.partial = true;
      route.failedShards = failed.map((f) => f.g.shardId!);
    }
    const origin = p.readOrigin ? combinedOrigin(routes) : undefined;
    if (origin) route.origin = origin;
    deps.emitExecuted(route, p.sql, p.schema, true);
    const result: QueryResult<R> = {
      command: 'SELECT',
      rowCount: merged.rows.length,
      oid: null,
      rows: merged.rows as R[],
      fields: merged.fields,
    } as QueryResult<R>;
    return new RoutedQueryResult(result, route) as unknown as RoutedResult<R>;
  };
}
