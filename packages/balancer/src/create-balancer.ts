import type { Balancer, BalancerStrategyName } from '@pg-multiverse/core';
import { PgmError } from '@pg-multiverse/core';
import { type HealthAwareOptions, healthAware } from './health-aware.js';
import { leastConnections } from './least-connections.js';
import { type PowerOfTwoOptions, powerOfTwoChoices } from './power-of-two.js';
import { type ResponseTimeOptions, responseTime } from './response-time.js';
import { roundRobin } from './round-robin.js';
import { type WeightedOptions, weighted } from './weighted.js';

/** Options of every built-in; each strategy reads the ones it knows. */
export interface BalancerOptions extends WeightedOptions, ResponseTimeOptions, HealthAwareOptions, PowerOfTwoOptions {}

const factories: Record<BalancerStrategyName, (options: BalancerOptions) => Balancer> = {
  round_robin: () => roundRobin(),
  weighted: (o) => weighted(o),
  least_connections: () => leastConnections(),
  response_time: (o) => responseTime(o),
  health_aware: (o) => healthAware(o),
  power_of_two: (o) => powerOfTwoChoices(o),
};

/** Names `createBalancer` accepts, in documentation order. */
export const balancerNames: readonly BalancerStrategyName[] = Object.freeze(
  Object.keys(factories) as BalancerStrategyName[],
);

/** True when `value` satisfies the `Balancer` contract (a `name` and a `pick` function). */
export function isBalancer(value: unknown): value is Balancer {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Balancer).pick === 'function' &&
    typeof (value as Balancer).name === 'string'
  );
}

/**
 * Resolves a strategy: a built-in name (default `round_robin`) gets a new
 * instance built with `options`; a `Balancer` object is returned as is.
 * Create one per cluster. Throws `UNKNOWN_BALANCER` (listing the valid names)
 * for an unknown name, `INVALID_ARGUMENT` for a malformed object or option.
 *
 * @example
 * const b = createBalancer(config.loadBalancing?.strategy, config.loadBalancing);
 */
export function createBalancer(
  strategy: BalancerStrategyName | Balancer | undefined = 'round_robin',
  options: BalancerOptions = {},
): Balancer {
  if (typeof strategy === 'string') {
    const factory = Object.hasOwn(factories, strategy) ? factories[strategy] : undefined;
    if (factory === undefined) {
      throw new PgmError(
        'UNKNOWN_BALANCER',
        `Unknown load-balancing strategy ${JSON.stringify(strategy)}; valid strategies: ${balancerNames.join(', ')}, or a Balancer object`,
        { details: { strategy, valid: balancerNames } },
      );
    }
    return factory(options);
  }
  if (isBalancer(strategy)) return strategy;
  throw new PgmError(
    'INVALID_ARGUMENT',
    `A load-balancing strategy must be one of ${balancerNames.join(', ')} or an object with a name and a pick(candidates, ctx) function`,
    { details: { valid: balancerNames } },
  );
}
