import { describe, expect, it } from 'vitest';
import { loadOpenTelemetryApi } from './tracing.js';

describe('loadOpenTelemetryApi', () => {
  it('finds the optional peer when it is installed', async () => {
    const api = await loadOpenTelemetryApi();
    expect(typeof api?.trace.getTracer).toBe('function');
    expect(typeof api?.context.active).toBe('function');
  });

  it('is undefined (tracing a no-op) when the package is not installed', async () => {
    expect(await loadOpenTelemetryApi('@opentelemetry/not-installed-here')).toBeUndefined();
  });
});
