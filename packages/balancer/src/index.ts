export { type BalancerOptions, balancerNames, createBalancer, isBalancer } from './create-balancer.js';
export { BALANCER_ERROR_CODES } from './error-codes.js';
export { type HealthAwareOptions, healthAware } from './health-aware.js';
export type { LatencyOptions } from './latency.js';
export { leastConnections } from './least-connections.js';
export { type PowerOfTwoOptions, powerOfTwoChoices } from './power-of-two.js';
export { type ResponseTimeOptions, responseTime } from './response-time.js';
export { roundRobin } from './round-robin.js';
export { type WeightedOptions, weighted } from './weighted.js';
