/** The part of an OpenTelemetry `Span` the facade uses. */
export interface SpanLike {
  setAttribute(key: string, value: string | number | boolean): unknown;
  recordException?(exception: Error): unknown;
  setStatus?(status: { code: number; message?: string }): unknown;
  end(): unknown;
}

/**
 * The part of an OpenTelemetry `Tracer` the facade uses, so
 * `trace.getTracer('pg-multiverse')` can be passed as is.
 * Span `pgm.query` with attributes `db.system`, `db.statement` (text only),
 * `pgm.cluster`, `pgm.node`, `pgm.role`, `pgm.cached`, `pgm.schema`.
 */
export interface QueryTracer {
  startSpan(
    name: string,
    options?: { attributes?: Record<string, string | number | boolean>; startTime?: number },
  ): SpanLike;
}

/** OpenTelemetry's `SpanStatusCode.ERROR`. */
export const SPAN_STATUS_ERROR = 2;
