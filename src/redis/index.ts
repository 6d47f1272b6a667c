/**
 * The Redis backend (issue 15): leased, fenced locks behind the lock layer's interfaces.
 * See docs/redis.md.
 */
export { createRedisBackend, RedisBackend, type RedisBackendOptions } from './redis-backend';
