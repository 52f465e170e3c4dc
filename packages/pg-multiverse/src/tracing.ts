import { performance } from 'node:perf_hooks';
import type * as OtelApi from '@opentelemetry/api';
import { redactError, type SqlTextAnalysis, sqlStateOf } from '@pg-multiverse/core';
import type { MigrationEvent } from '@pg-multiverse/migrate';
import type { QueryExecutedEvent, QueryPlan, RouteInfo } from '@pg-multiverse/router';
import type {
  HookInfo,
  TransactionCommittedEvent,
  TransactionRolledBackEvent,
  TransactionStartedEvent,
} from '@pg-multiverse/tx';
import type { NodeAddress } from './node-addresses.js';

/** A span attribute value (OpenTelemetry's `AttributeValue`, the kinds used here). */
export type SpanAttributeValue = string | number | boolean | string[];

/** The part of an OpenTelemetry `Span` the facade uses. */
export interface SpanLike {
  setAttribute(key: string, value: SpanAttributeValue): unknown;
  recordException?(exception: Error): unknown;
  setStatus?(status: { code: number; message?: string }): unknown;
  isRecording?(): boolean;
  end(endTime?: number): unknown;
}

/**
 * The part of an OpenTelemetry `Tracer` the facade uses: a `Tracer` from
 * `@opentelemetry/api` (`trace.getTracer(...)`, or a provider's
 * `getTracer(...)`) is one. `context` is an OpenTelemetry `Context` (the parent).
 */
export interface QueryTracer {
  startSpan(
    name: string,
    options?: { kind?: number; attributes?: Record<string, SpanAttributeValue>; startTime?: number },
    context?: unknown,
  ): SpanLike;
}

/** The instrumentation scope name of the facade's spans (`trace.getTracer(TRACER_NAME)`). */
export const TRACER_NAME = 'pg-multiverse';

type Api = typeof OtelApi;
/** An OpenTelemetry span (internal). */
export type Span = OtelApi.Span;
type Context = OtelApi.Context;
type Attributes = Record<string, SpanAttributeValue>;

// OpenTelemetry's enum values (stable API), so the module loads without the optional peer.
const SPAN_KIND_INTERNAL = 0;
const SPAN_KIND_CLIENT = 2;
const STATUS_ERROR = 2;
const SYSTEM = 'postgresql';

/**
 * `@opentelemetry/api`, or undefined when it is not installed (tracing is then a
 * no-op). Any other failure to load it is thrown: a broken install is not hidden.
 */
export async function loadOpenTelemetryApi(specifier = '@opentelemetry/api'): Promise<Api | undefined> {
  try {
    const mod = (await import(specifier)) as Api & { default?: Api };
    // CommonJS through import(): the named exports may sit on `default` only.
    return typeof mod.trace?.getTracer === 'function' ? mod : mod.default;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return undefined;
    throw err;
  }
}

interface TxSpans {
  span: Span;
  ctx: Context;
  phase?: { name: string; span: Span; ctx: Context };
  prepared: boolean;
}

interface StatementTemplate {
  clusterId: string;
  schema: string | undefined;
  shardId: string | undefined;
  name: string;
  /** Copied for each span (a sampler may add to the object it is given). */
  attributes: Readonly<Attributes>;
}

interface MigrationSpan {
  span: Span;
  ctx: Context;
  clusterId: string;
  shardId: string | undefined;
  schema: string;
}

/**
 * Spans after OpenTelemetry's database semantic conventions (PostgreSQL):
 * one CLIENT span per statement (those of `query()`, of transactions and of
 * migrations), INTERNAL spans for a transaction, its two-phase-commit phases
 * and each migration step. Statements inside a transaction are children of
 * its span (or of the 2PC phase they belong to). Parameters never appear.
 */
export class Tracing {
  private readonly tx = new Map<string, TxSpans>();
  private readonly migrations = new Map<string, MigrationSpan>();
  private readonly databases = new Map<string, string>();
  /** Per analysis (one per SQL text): the last target's span name and attributes (see `templateOf`). */
  private readonly templates = new WeakMap<SqlTextAnalysis, StatementTemplate>();
  /** The API's global provider while no SDK is registered behind it (`globalTracer` only; see `noTracerYet`). */
  private unregistered: OtelApi.ProxyTracerProvider | undefined;

  constructor(
    private readonly api: Api,
    private readonly tracer: OtelApi.Tracer,
    private readonly nodes: ReadonlyMap<string, NodeAddress>,
    private readonly analyze: (sql: string) => SqlTextAnalysis,
    private readonly secrets: readonly string[],
    globalTracer = false,
  ) {
    for (const n of nodes.values()) if (!this.databases.has(n.clusterId)) this.databases.set(n.clusterId, n.database);
    if (globalTracer) {
      const provider = api.trace.getTracerProvider();
      if (provider instanceof api.ProxyTracerProvider) this.unregistered = provider;
    }
  }

  /**
   * True while the API's global tracer has no SDK behind it: a span would be the API's no-op
   * one, so statements skip making it (and its attributes). Checked per statement (an SDK may
   * register later); once one has, never again.
   */
  private noTracerYet(): boolean {
    const p = this.unregistered;
    if (p === undefined) return false;
    if (p.getDelegateTracer(TRACER_NAME) === undefined) return true;
    this.unregistered = undefined;
    return false;
  }

  // ---- statements ------------------------------------------------------------------------------

  /**
   * The span of one `query()` call, started before it runs (parent: the active context), with
   * every attribute known before running (a sampler sees them). A fresh attributes object per
   * span: the SDK merges its sampler's attributes into the object it is given.
   */
  startQuery(plan: QueryPlan): Span | undefined {
    if (this.noTracerYet()) return undefined;
    const t = this.templateOf(plan);
    return this.tracer.startSpan(t.name, { kind: SPAN_KIND_CLIENT, attributes: { ...t.attributes } });
  }

  /**
   * The name and attributes a `query()` span of `plan` starts with, made once per SQL text (its
   * memoized analysis) and target (cluster, schema, shard): an application sends the same few
   * statements over and over, and every span, recording or not, would otherwise build them again.
   */
  private templateOf(plan: QueryPlan): StatementTemplate {
    const t = this.templates.get(plan.analysis);
    if (t !== undefined && t.clusterId === plan.clusterId && t.schema === plan.schema && t.shardId === plan.shardId) {
      return t;
    }
    const attributes = this.statementAttributes(plan.analysis, plan.sql, plan.clusterId, plan.schema, plan.shardId);
    const made: StatementTemplate = {
      clusterId: plan.clusterId,
      schema: plan.schema,
      shardId: plan.shardId,
      name: this.nameOf(attributes),
      attributes,
    };
    this.templates.set(plan.analysis, made);
    return made;
  }

  /** `query()` succeeded: where it ran (or that the cache answered), then end. */
  endQuery(span: Span, result: unknown, cached: boolean): void {
    if (recording(span)) {
      span.setAttribute('pgm.cached', cached);
      const route = (result as { route?: RouteInfo } | undefined)?.route;
      if (!cached && route) {
        this.setNode(span, route.clusterId, route.nodeId, route.role);
        // A cross-shard statement: every shard it ran on.
        if (route.shardIds && route.shardIds.length > 1) span.setAttribute('pgm.shards', route.shardIds.join(','));
      }
    }
    span.end();
  }

  /** `query()` failed (the error is already redacted). */
  failQuery(span: Span, err: Error, cached: boolean): void {
    if (recording(span)) {
      span.setAttribute('pgm.cached', cached);
      const e = err as { clusterId?: string; nodeId?: string };
      if (e.clusterId && e.nodeId) this.setNode(span, e.clusterId, e.nodeId, undefined);
      this.setError(span, err, undefined);
    }
    span.end();
  }

  /**
   * A statement on a lent session (transaction, migration): observed by the
   * router after it ran, so its span is made with its start time and parent.
   */
  statement(e: QueryExecutedEvent): void {
    if (this.noTracerYet()) return;
    const analysis = this.analyze(e.sql);
    const parent = this.parentOf(e, analysis);
    const attributes = this.statementAttributes(analysis, e.sql, e.clusterId, e.schema, e.shardId);
    if (e.transactionId !== undefined) attributes['pgm.transaction_id'] = e.transactionId;
    const now = performance.timeOrigin + performance.now();
    const span = this.tracer.startSpan(
      this.nameOf(attributes),
      { kind: SPAN_KIND_CLIENT, attributes, startTime: now - e.durationMs },
      parent,
    );
    if (recording(span)) {
      this.setNode(span, e.clusterId, e.nodeId, e.role);
      if (!e.ok) this.setError(span, undefined, e.errorCode);
    }
    span.end(now);
  }

  // ---- transactions ----------------------------------------------------------------------------

  /** The transaction's span (parent: the active context). */
  transactionStarted(e: TransactionStartedEvent): void {
    const active = this.api.context.active();
    const span = this.tracer.startSpan(
      'pgm.transaction',
      {
        kind: SPAN_KIND_INTERNAL,
        attributes: {
          'db.system.name': SYSTEM,
          'db.system': SYSTEM,
          'pgm.transaction_id': e.id,
          'pgm.schemas': [...e.schemas],
        },
      },
      active,
    );
    const ctx = this.api.trace.setSpan(active, span);
    this.tx.set(e.id, { span, ctx, prepared: false });
  }

  /** Run `fn` (the transaction's callback) with the transaction's span active. */
  inTransaction<T>(id: string, fn: () => T): T {
    const t = this.tx.get(id);
    return t ? this.api.context.with(t.ctx, fn) : fn();
  }

  /** 2PC: every writer prepared (hook `afterPrepare`): the prepare phase ends, the decision's begins. */
  afterPrepare(info: HookInfo): void {
    const t = this.tx.get(info.id);
    if (!t) return;
    t.prepared = true;
    const prepare = t.phase?.name === 'prepare' ? t.phase : this.openPhase(t, 'prepare', undefined);
    prepare.span.setAttribute('pgm.participants', Object.keys(info.gids));
    prepare.span.end();
    t.phase = undefined;
    this.openPhase(t, 'decide', undefined);
  }

  /** 2PC: the commit decision is durable (hook `afterDecision`): COMMIT PREPARED follows. */
  afterDecision(info: HookInfo): void {
    const t = this.tx.get(info.id);
    if (!t) return;
    t.phase?.span.end();
    t.phase = undefined;
    this.openPhase(t, 'commit', undefined);
  }

  transactionCommitted(e: TransactionCommittedEvent): void {
    const t = this.tx.get(e.id);
    if (!t) return;
    this.tx.delete(e.id);
    if (t.phase) {
      if (e.pendingRecovery.length > 0) t.phase.span.setAttribute('pgm.pending_recovery', [...e.pendingRecovery]);
      t.phase.span.end();
    }
    t.span.setAttribute('pgm.clusters', [...e.clusters]);
    t.span.setAttribute('pgm.two_phase', e.twoPhase);
    t.span.setAttribute('pgm.outcome', 'committed');
    if (e.pendingRecovery.length > 0) t.span.setAttribute('pgm.pending_recovery', [...e.pendingRecovery]);
    t.span.end();
  }

  transactionRolledBack(e: TransactionRolledBackEvent): void {
    const t = this.tx.get(e.id);
    if (!t) return;
    this.tx.delete(e.id);
    const err = e.error instanceof Error ? redactError(e.error, this.secrets) : undefined;
    if (t.phase) {
      t.phase.span.setStatus?.({ code: STATUS_ERROR, message: `rolled back: ${e.reason}` });
      t.phase.span.end();
    }
    t.span.setAttribute('pgm.clusters', [...e.clusters]);
    t.span.setAttribute('pgm.outcome', 'rolled_back');
    t.span.setAttribute('pgm.rollback_reason', e.reason);
    this.setError(t.span, err, undefined);
    t.span.end();
  }

  /**
   * `withTransaction` rejected without a committed or rolled-back event (its outcome is in
   * doubt: recovery finishes it): the span ends with the error, `pgm.outcome` `in_doubt`.
   */
  transactionUnsettled(id: string, err: Error): void {
    const t = this.tx.get(id);
    if (!t) return;
    this.tx.delete(id);
    if (t.phase) {
      t.phase.span.setStatus?.({ code: STATUS_ERROR, message: err.message });
      t.phase.span.end();
    }
    t.span.setAttribute('pgm.outcome', 'in_doubt');
    this.setError(t.span, err, undefined);
    t.span.end();
  }

  private openPhase(t: TxSpans, name: string, startTime: number | undefined): NonNullable<TxSpans['phase']> {
    const span = this.tracer.startSpan(
      `pgm.2pc.${name}`,
      {
        kind: SPAN_KIND_INTERNAL,
        attributes: { 'db.system.name': SYSTEM, 'pgm.2pc.phase': name },
        ...(startTime !== undefined ? { startTime } : {}),
      },
      t.ctx,
    );
    t.phase = { name, span, ctx: this.api.trace.setSpan(t.ctx, span) };
    return t.phase;
  }

  // ---- migrations ------------------------------------------------------------------------------

  migrationStarted(e: MigrationEvent): void {
    const active = this.api.context.active();
    const attributes: Attributes = {
      'db.system.name': SYSTEM,
      'db.system': SYSTEM,
      'db.namespace': this.namespace(e.cluster, e.schema),
      'pgm.cluster': e.cluster,
      'pgm.schema': e.schema,
      'pgm.migration.version': e.version,
      'pgm.migration.name': e.name,
      'pgm.migration.direction': e.direction,
    };
    if (e.shard !== undefined) attributes['pgm.shard'] = e.shard;
    const span = this.tracer.startSpan(
      `pgm.migration.${e.direction}`,
      { kind: SPAN_KIND_INTERNAL, attributes },
      active,
    );
    this.migrations.set(migrationKey(e), {
      span,
      ctx: this.api.trace.setSpan(active, span),
      clusterId: e.cluster,
      shardId: e.shard,
      schema: e.schema,
    });
  }

  migrationEnded(e: MigrationEvent): void {
    const key = migrationKey(e);
    const m = this.migrations.get(key);
    if (!m) return;
    this.migrations.delete(key);
    if (e.error) this.setError(m.span, redactError(e.error, this.secrets), undefined);
    m.span.end();
  }

  // ---- helpers ---------------------------------------------------------------------------------

  private parentOf(e: QueryExecutedEvent, analysis: SqlTextAnalysis): Context {
    if (e.transactionId !== undefined) {
      const t = this.tx.get(e.transactionId);
      if (t) {
        // The first PREPARE TRANSACTION opens the prepare phase (from its own start).
        if (!t.phase && !t.prepared && isPrepareTransaction(analysis)) {
          this.openPhase(t, 'prepare', performance.timeOrigin + performance.now() - e.durationMs);
        }
        return t.phase?.ctx ?? t.ctx;
      }
    } else if (this.migrations.size > 0) {
      let best: MigrationSpan | undefined;
      for (const m of this.migrations.values()) {
        if (m.clusterId !== e.clusterId || m.shardId !== e.shardId) continue;
        if (e.schema === undefined || m.schema === e.schema || !best) best = m;
      }
      if (best) return best.ctx;
    }
    return this.api.context.active();
  }

  private statementAttributes(
    analysis: SqlTextAnalysis,
    sql: string,
    clusterId: string,
    schema: string | undefined,
    shardId: string | undefined,
  ): Attributes {
    const a: Attributes = {
      'db.system.name': SYSTEM,
      'db.system': SYSTEM,
      'db.namespace': this.namespace(clusterId, schema),
      'db.query.text': sql,
      'pgm.cluster': clusterId,
    };
    const op = operationOf(analysis);
    if (op) a['db.operation.name'] = op;
    const table = collectionOf(analysis);
    if (table) a['db.collection.name'] = table;
    if (schema !== undefined) a['pgm.schema'] = schema;
    if (shardId !== undefined) a['pgm.shard'] = shardId;
    return a;
  }

  /** `{db.operation.name} {db.collection.name | db.namespace}` (semantic conventions' span name). */
  private nameOf(a: Attributes): string {
    const op = a['db.operation.name'] as string | undefined;
    const target = (a['db.collection.name'] ?? a['db.namespace']) as string;
    return op ? `${op} ${target}` : target;
  }

  private namespace(clusterId: string, schema: string | undefined): string {
    const db = this.databases.get(clusterId) ?? clusterId;
    return schema ? `${db}.${schema}` : db;
  }

  private setNode(span: Span, clusterId: string, nodeId: string, role: string | undefined): void {
    span.setAttribute('pgm.node', nodeId);
    if (role) span.setAttribute('pgm.role', role);
    const n = this.nodes.get(`${clusterId}/${nodeId}`);
    if (n) {
      span.setAttribute('server.address', n.address);
      span.setAttribute('server.port', n.port);
      if (n.shardId !== undefined) span.setAttribute('pgm.shard', n.shardId);
    }
  }

  private setError(span: Span, err: Error | undefined, code: string | undefined): void {
    const state =
      (err as { sqlState?: string } | undefined)?.sqlState ??
      sqlStateOf(err) ??
      (code && /^[0-9A-Z]{5}$/.test(code) ? code : undefined);
    if (state) span.setAttribute('db.response.status_code', state);
    const pgmCode = (err as { code?: unknown } | undefined)?.code;
    span.setAttribute('error.type', state ?? code ?? (typeof pgmCode === 'string' ? pgmCode : (err?.name ?? '_OTHER')));
    if (err) span.recordException?.(err);
    span.setStatus?.({ code: STATUS_ERROR, message: err?.message ?? code ?? 'failed' });
  }
}

/** Spans of a tracer that is not OpenTelemetry's (the `QueryTracer` shape) may not say: assume they record. */
function recording(span: Span): boolean {
  return typeof span.isRecording === 'function' ? span.isRecording() : true;
}

function migrationKey(e: MigrationEvent): string {
  return `${e.direction}\u0000${e.version}\u0000${e.cluster}\u0000${e.shard ?? ''}\u0000${e.schema}`;
}

/** The statement's command (`SELECT`, `INSERT`, ...) when the text is one statement. */
function operationOf(a: SqlTextAnalysis): string | undefined {
  if (a.statements.length !== 1) return undefined;
  const c = a.statements[0]!.command;
  return c ? c.toUpperCase() : undefined;
}

/** The table, when the statement touches exactly one (as written in the SQL). */
function collectionOf(a: SqlTextAnalysis): string | undefined {
  const first = a.written[0] ?? a.read[0];
  if (first === undefined) return undefined;
  for (const t of a.read) if (t !== first) return undefined;
  for (const t of a.written) if (t !== first) return undefined;
  return first;
}

/** The text sends PREPARE TRANSACTION (the first phase of a two-phase commit). */
export function isPrepareTransaction(a: SqlTextAnalysis): boolean {
  return a.statements.some((s) => s.transactionControl && s.command.toLowerCase() === 'prepare');
}
