export { type CodecOptions, decodeValue, type EncodedValue, encodeValue } from './codec.js';
export { CACHE_ERROR_CODES } from './error-codes.js';
export type { QueryCacheEventName, QueryCacheEvents } from './events.js';
export { GENERATED_KEY_PREFIX, type KeyInput, keyFor } from './key.js';
export { createMemoryStore, type MemoryStore, type MemoryStoreOptions } from './memory-store.js';
export {
  type BusInvalidation,
  createNotifyBus,
  type NotifyBus,
  type NotifyBusOptions,
  type NotifyClientLike,
} from './notify-bus.js';
export { chunkMessages, MAX_PAYLOAD_BYTES, type NotifyMessage } from './notify-message.js';
export {
  createQueryCache,
  type QueryCache,
  type QueryCacheInvalidation,
  type QueryCacheOptions,
  type WrapOptions,
  type WrapResult,
} from './query-cache.js';
export { createRedisStore, type RedisLike, type RedisStore, type RedisStoreOptions } from './redis-store.js';
export { type ReferencedTables, referencedTables } from './referenced-tables.js';
export type { QueryCacheStats } from './stats.js';
export { schemaTag, type TagsInput, tableTag, tagsFor, type WriteInput, writeTags } from './tags.js';
