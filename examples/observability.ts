// Watching pg-multiverse with the tools people already run: OpenTelemetry spans (here the SDK's
// in-memory exporter; in production an OTLP exporter) and a Prometheus scrape endpoint on
// node:http (examples/grafana/pg-multiverse.json is the dashboard over it).
//   import { run } from './observability.js'; await run(config);
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { type ClusterConfiguration, PgMultiverse } from 'pg-multiverse';

export async function run(config: ClusterConfiguration, schemas: { users: string; orders: string }) {
  // 1. The application owns the SDK: a provider, registered globally, and a context manager so
  //    spans started inside a request nest under its span.
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

  // 2. pg-multiverse finds @opentelemetry/api and uses the global provider: nothing to configure.
  const pgm = new PgMultiverse();
  await pgm.initialize(config);

  // 3. Prometheus scrapes this (scrape_configs: - targets: ['host:port']).
  const metrics = createServer(pgm.metricsHandler());
  await new Promise<void>((resolve) => metrics.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(metrics.address() as AddressInfo).port}/metrics`;
  try {
    await trace.getTracer('app').startActiveSpan('GET /orders', async (request) => {
      await pgm.query('SELECT 1 AS one', [], { schema: schemas.users });
      await pgm.withTransaction([schemas.users, schemas.orders], async (tx) => {
        await tx.query('SELECT 1 AS one', [], { schema: schemas.users });
        await tx.query('SELECT 2 AS two', [], { schema: schemas.orders });
      });
      request.end();
    });
    const scrape = await fetch(url);
    return {
      spans: exporter.getFinishedSpans().map((s) => ({
        name: s.name,
        parent: s.parentSpanContext?.spanId,
        id: s.spanContext().spanId,
        attributes: s.attributes,
      })),
      contentType: scrape.headers.get('content-type'),
      metrics: await scrape.text(),
    };
  } finally {
    await new Promise((r) => metrics.close(r));
    await pgm.close();
    trace.disable();
    context.disable();
    await provider.shutdown();
  }
}
