import type { FieldInfo } from '@pg-multiverse/core';
import pg from 'pg';
import { evaluateHaving, type Operand } from './having.js';
import type { Count, MergeSpec, OrderItem, Refused } from './rewrite.js';
import {
  addValues,
  type Compare,
  comparatorFor,
  divideDecimal,
  equalityKeyFor,
  formatDecimal,
  OID,
  parseDecimal,
} from './values.js';

/** One shard's answer. */
export interface ShardRows {
  fields: readonly FieldInfo[];
  rows: readonly unknown[];
}

export interface Merged {
  fields: FieldInfo[];
  rows: unknown[];
}

/** A merge that found a column it cannot merge exactly (its type); the caller refuses the statement. */
export class MergeRefused extends Error {
  constructor(readonly refusal: Refused) {
    super(refusal.refused);
  }
}

const typeName = (oid: number) =>
  ({
    1114: 'timestamp',
    1184: 'timestamptz',
    1083: 'time',
    1266: 'timetz',
    1186: 'interval',
    114: 'json',
    700: 'float4',
  })[oid] ?? `OID ${oid}`;

function refuse(
  what: string,
  oid: number,
  why = 'its order or equality is not reproduced exactly outside the server',
): never {
  throw new MergeRefused({ refused: `${what} on a column of type ${typeName(oid)}`, why });
}

/** A LIMIT/OFFSET value from its constant or parameter; undefined: none. */
export function countValue(c: Count, params: readonly unknown[] | undefined, what: string): number | undefined {
  if (c === undefined) return undefined;
  const raw = 'value' in c ? c.value : params?.[c.param - 1];
  if (raw === null || raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new MergeRefused({ refused: `${what} ${String(raw)}`, why: `${what} must be a non-negative integer` });
  }
  return n;
}

function getter(fields: readonly FieldInfo[], arrays: boolean) {
  return arrays
    ? (row: unknown, i: number) => (row as unknown[])[i]
    : (row: unknown, i: number) => (row as Record<string, unknown>)[fields[i]!.name];
}

/** Field index of an ORDER BY item among `fields` (names resolved here; duplicates refused). */
function orderField(o: OrderItem, fields: readonly FieldInfo[]): number {
  if ('index' in o.column) {
    if (o.column.index >= fields.length) {
      throw new MergeRefused({ refused: `ORDER BY ${o.text}`, why: 'no such select-list position' });
    }
    return o.column.index;
  }
  const name = o.column.name;
  const hits = fields.flatMap((f, i) => (f.name === name ? [i] : []));
  if (hits.length !== 1) {
    throw new MergeRefused({
      refused: `ORDER BY ${o.text}`,
      why:
        hits.length === 0
          ? 'ORDER BY columns of a cross-shard read must be in the select list (by name or position)'
          : `${hits.length} output columns are named "${name}": give them distinct aliases`,
    });
  }
  return hits[0]!;
}

function sortRows(
  rows: unknown[],
  order: readonly OrderItem[],
  fields: readonly FieldInfo[],
  get: ReturnType<typeof getter>,
) {
  if (order.length === 0) return;
  const keys = order.map((o) => {
    const f = orderField(o, fields);
    const compare = comparatorFor(fields[f]!.dataTypeID) ?? refuse(`ORDER BY ${o.text}`, fields[f]!.dataTypeID);
    return { f, compare, desc: o.desc, nullsFirst: o.nullsFirst };
  });
  rows.sort((a, b) => {
    for (const k of keys) {
      const x = get(a, k.f);
      const y = get(b, k.f);
      const xn = x === null || x === undefined;
      const yn = y === null || y === undefined;
      let c: number;
      if (xn || yn) {
        if (xn && yn) continue;
        c = xn === k.nullsFirst ? -1 : 1;
        if (c !== 0) return c;
        continue;
      }
      c = k.compare(x, y);
      if (c !== 0) return k.desc ? -c : c;
    }
    return 0;
  });
}

function dedupe(rows: unknown[], fields: readonly FieldInfo[], get: ReturnType<typeof getter>): unknown[] {
  const keyers = fields.map((f) => equalityKeyFor(f.dataTypeID) ?? refuse('DISTINCT', f.dataTypeID));
  const seen = new Set<string>();
  return rows.filter((r) => {
    const key = keyers.map((k, i) => {
      const v = get(r, i);
      return v === null || v === undefined ? '\u0000' : `\u0001${k(v)}`;
    });
    const s = key.join('\u0002');
    if (seen.has(s)) return false;
    seen.add(s);
    return true;
  });
}

function window<T>(rows: T[], offset: number | undefined, limit: number | undefined): T[] {
  const from = offset ?? 0;
  if (from === 0 && limit === undefined) return rows;
  return rows.slice(from, limit === undefined ? undefined : from + limit);
}

/**
 * The merge orders text (ORDER BY, min/max, HAVING comparisons of text): it
 * sorts by code point, which is the server's order only under the C collation.
 */
export function ordersText(spec: MergeSpec, fields: readonly FieldInfo[]): boolean {
  const text = (f: FieldInfo | undefined) =>
    f !== undefined && [OID.text, OID.varchar, OID.bpchar, OID.name].includes(f.dataTypeID as 25);
  if (spec.mode !== 'grouped') {
    return spec.order.some((o) => {
      try {
        return text(fields[orderField(o, fields)]);
      } catch {
        return false; // the merge refuses it with its own reason
      }
    });
  }
  if (spec.having !== undefined && fields.some(text)) return true;
  if (spec.fieldKinds.some((k, i) => (k === 'min' || k === 'max') && text(fields[i]))) return true;
  // ORDER BY over the visible columns (avg is numeric)
  const visible = spec.columns.map((c) => (c.kind === 'avg' ? undefined : fields[c.field]));
  const names = spec.columns.map((c) => (c.kind === 'avg' ? c.name : fields[c.field]?.name));
  return spec.order.some((o) => {
    const idx = 'index' in o.column ? o.column.index : names.indexOf(o.column.name);
    return text(visible[idx]);
  });
}

/** Merge the shards' answers into the one result the whole database would give. */
export function mergeRows(
  spec: MergeSpec,
  shards: readonly ShardRows[],
  params: readonly unknown[] | undefined,
): Merged {
  const withFields = shards.find((s) => s.fields.length > 0) ?? shards[0]!;
  const fields = withFields.fields;
  const arrays = shards.some((s) => s.rows.length > 0 && Array.isArray(s.rows[0]));
  const get = getter(fields, arrays);
  const limit = countValue(spec.limit, params, 'LIMIT');
  const offset = countValue(spec.offset, params, 'OFFSET');

  if (spec.mode !== 'grouped') {
    let rows: unknown[] = [];
    for (const s of shards) for (const r of s.rows) rows.push(r);
    if (spec.mode === 'distinct') rows = dedupe(rows, fields, get);
    sortRows(rows, spec.order, fields, get);
    return { fields: [...fields], rows: window(rows, offset, limit) };
  }
  return mergeGroups(spec, shards, fields, get, arrays, params, limit, offset);
}

function mergeGroups(
  spec: MergeSpec,
  shards: readonly ShardRows[],
  fields: readonly FieldInfo[],
  get: ReturnType<typeof getter>,
  arrays: boolean,
  params: readonly unknown[] | undefined,
  limit: number | undefined,
  offset: number | undefined,
): Merged {
  const keyers = spec.keyFields.map(
    (f) => equalityKeyFor(fields[f]!.dataTypeID) ?? refuse('GROUP BY', fields[f]!.dataTypeID),
  );
  const compares: Array<Compare | undefined> = spec.fieldKinds.map((k, i) =>
    k === 'min' || k === 'max'
      ? (comparatorFor(fields[i]!.dataTypeID) ?? refuse(`${k}()`, fields[i]!.dataTypeID))
      : undefined,
  );
  const groups = new Map<string, unknown[]>();
  for (const s of shards) {
    for (const row of s.rows) {
      const key = keyers
        .map((k, n) => {
          const v = get(row, spec.keyFields[n]!);
          return v === null || v === undefined ? '\u0000' : `\u0001${k(v)}`;
        })
        .join('\u0002');
      const acc = groups.get(key);
      if (!acc) {
        groups.set(
          key,
          spec.fieldKinds.map((_, i) => get(row, i)),
        );
        continue;
      }
      for (const [i, kind] of spec.fieldKinds.entries()) {
        const v = get(row, i);
        if (kind === 'count' || kind === 'sum') acc[i] = addValues(acc[i], v);
        else if (kind === 'min' || kind === 'max') {
          if (v === null || v === undefined) continue;
          const cur = acc[i];
          if (cur === null || cur === undefined) acc[i] = v;
          else {
            const c = compares[i]!(v, cur);
            if (kind === 'min' ? c < 0 : c > 0) acc[i] = v;
          }
        }
      }
    }
  }
  const numericParser = pg.types.getTypeParser(OID.numeric, 'text') as (text: string) => unknown;
  const avgOf = (sumField: number, countField: number, acc: unknown[]): unknown => {
    const sum = acc[sumField];
    const count = acc[countField];
    if (sum === null || sum === undefined || count === null || count === undefined || Number(count) === 0) return null;
    const t = fields[sumField]!.dataTypeID;
    if (t === OID.float4) refuse('avg()', t, 'a float4 sum per shard loses the precision avg() keeps');
    if (t === OID.float8) return Number(sum) / Number(count);
    if (t !== OID.int8 && t !== OID.numeric) refuse('avg()', t, 'avg is merged for integer, numeric and float columns');
    const s = parseDecimal(sum);
    const n = parseDecimal(count);
    if (typeof s === 'string' || typeof n === 'string') return numericParser(typeof s === 'string' ? s : 'NaN');
    return numericParser(formatDecimal(divideDecimal(s, n)));
  };
  const outFields: FieldInfo[] = spec.columns.map((c) => {
    if (c.kind !== 'avg') return fields[c.field]!;
    const float = [OID.float4, OID.float8].includes(fields[c.sum]!.dataTypeID as 700 | 701);
    return {
      name: c.name,
      tableID: 0,
      columnID: 0,
      dataTypeID: float ? OID.float8 : OID.numeric,
      dataTypeSize: float ? 8 : -1,
      dataTypeModifier: -1,
      format: 'text',
    } as FieldInfo;
  });
  const names = new Set<string>();
  if (!arrays) {
    for (const f of outFields) {
      if (names.has(f.name)) {
        throw new MergeRefused({
          refused: `two output columns named "${f.name}"`,
          why: 'give them distinct aliases (rows are objects keyed by column name)',
        });
      }
      names.add(f.name);
    }
  }
  const value =
    (acc: unknown[]) =>
    (o: Operand): unknown => {
      if ('key' in o) return acc[o.key];
      if ('agg' in o) return typeof o.agg === 'number' ? acc[o.agg] : avgOf(o.agg.sum, o.agg.count, acc);
      if ('param' in o) return params?.[o.param - 1];
      if ('null' in o) return null;
      return o.literal;
    };
  const isText = (o: Operand) =>
    ('key' in o || ('agg' in o && typeof o.agg === 'number')) &&
    [OID.text, OID.varchar, OID.bpchar, OID.name].includes(
      fields['key' in o ? o.key : (o as { agg: number }).agg]!.dataTypeID as 25,
    );
  let rows: unknown[] = [];
  for (const acc of groups.values()) {
    if (spec.having && evaluateHaving(spec.having, value(acc), isText) !== true) continue;
    const vals = spec.columns.map((c) => (c.kind === 'avg' ? avgOf(c.sum, c.count, acc) : acc[c.field]));
    if (arrays) rows.push(vals);
    else {
      const o: Record<string, unknown> = {};
      for (const [i, f] of outFields.entries()) o[f.name] = vals[i];
      rows.push(o);
    }
  }
  const outGet = getter(outFields, arrays);
  if (spec.distinct) rows = dedupe(rows, outFields, outGet);
  sortRows(rows, spec.order, outFields, outGet);
  return { fields: outFields, rows: window(rows, offset, limit) };
}
