import { testCacheStore } from '@pg-multiverse/cache/testing';
import { mapStore } from '../custom-cache-store.js';

// The example store implements only the required members of CacheStore; the
// conformance suite checks it like the built-in stores (optional checks skip).
testCacheStore(() => mapStore(), { name: 'example map store' });
