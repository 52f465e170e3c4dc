import { PgmError } from '@pg-multiverse/core';

/** Throws `INVALID_ARGUMENT` unless `value` is a finite number within [min, max] (or undefined). */
export function checkNumber(
  option: string,
  value: unknown,
  min: number,
  max = Number.MAX_VALUE,
  exclusiveMin = false,
): void {
  if (value === undefined) return;
  const ok =
    typeof value === 'number' && Number.isFinite(value) && (exclusiveMin ? value > min : value >= min) && value <= max;
  if (!ok) {
    const range = max === Number.MAX_VALUE ? `${exclusiveMin ? '>' : '>='} ${min}` : `between ${min} and ${max}`;
    throw new PgmError(
      'INVALID_ARGUMENT',
      `Balancer option ${option} must be a number ${range}, got ${String(value)}`,
      {
        details: { option },
      },
    );
  }
}

/** As `checkNumber`, for an integer >= `min`. */
export function checkInteger(option: string, value: unknown, min: number): void {
  checkNumber(option, value, min);
  if (value !== undefined && !Number.isInteger(value)) {
    throw new PgmError(
      'INVALID_ARGUMENT',
      `Balancer option ${option} must be an integer >= ${min}, got ${String(value)}`,
      {
        details: { option },
      },
    );
  }
}

/** Validates a `weights` map (node id -> finite weight >= 0) and returns a frozen copy. */
export function checkWeights(
  weights: Readonly<Record<string, number>> | undefined,
): Readonly<Record<string, number>> | undefined {
  if (weights === undefined) return undefined;
  if (weights === null || typeof weights !== 'object') {
    throw new PgmError('INVALID_ARGUMENT', 'Balancer option weights must be an object of node id -> weight');
  }
  const copy: Record<string, number> = Object.create(null);
  for (const [id, w] of Object.entries(weights)) {
    checkNumber(`weights.${id}`, w, 0);
    copy[id] = w;
  }
  return Object.freeze(copy);
}
