import {
  createBalancer,
  healthAware,
  leastConnections,
  powerOfTwoChoices,
  responseTime,
  roundRobin,
  weighted,
} from './index.js';
import { testBalancer } from './testing.js';

testBalancer(() => roundRobin());
testBalancer(() => weighted());
testBalancer(() => weighted({ weights: { n0: 3, n1: 0, s0: 2 } }), { name: 'weighted with weights option' });
testBalancer(() => leastConnections());
testBalancer(() => responseTime());
testBalancer(() => healthAware());
testBalancer(() => healthAware({ healthThreshold: 90, halfLifeMs: 100 }), { name: 'health_aware threshold 90' });
testBalancer(() => powerOfTwoChoices());
testBalancer(() => createBalancer({ name: 'first', pick: (c) => c[0] }), { name: 'custom first', spreadsLoad: false });
