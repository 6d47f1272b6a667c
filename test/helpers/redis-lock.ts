/**
 * Fixtures of the Redis lock tests: ioredis clients of a test's own redis-server, lock backends
 * and Mutex handles on them, each closed at the test's teardown (tap runs teardowns last
 * registered first: handles, then backends, then clients, then the server).
 */
import type { Test } from 'tap';
import Redis from 'ioredis';
import { createRedisBackend, Mutex } from '../../dist';
import { RedisServer } from './redis-server';

export type RedisBackend = ReturnType<typeof createRedisBackend>;
export type RedisBackendOptions = Parameters<typeof createRedisBackend>[0];

/** An ioredis client of `server`, disconnected at t's teardown. */
export function clientOf(t: Test, server: RedisServer): Redis {
  const client = new Redis({ port: server.port, host: '127.0.0.1' });
  t.teardown(() => client.disconnect());
  return client;
}

export interface RedisEnv {
  server: RedisServer;
  /** For the code under test. */
  client: Redis;
  /** For the test itself: INFO, KEYS, forging the lock's keys. */
  admin: Redis;
}

/** A redis-server for `t` and two clients of it. */
export async function redisEnv(t: Test): Promise<RedisEnv> {
  const server = await RedisServer.start(t);
  return { server, client: clientOf(t, server), admin: clientOf(t, server) };
}

/** A lock backend created with `options`, closed at t's teardown. */
export function backendWith(t: Test, options: RedisBackendOptions): RedisBackend {
  const backend = createRedisBackend(options);
  t.teardown(() => backend.close());
  return backend;
}

/** A lock backend on `client` with a lease of `leaseMs`, closed at t's teardown. */
export function backendOf(t: Test, client: Redis, leaseMs = 400): RedisBackend {
  return backendWith(t, { client, leaseMs });
}

/** A Mutex handle of lock `name` on `backend`, closed at t's teardown. */
export function mutexOf(t: Test, name: string, backend: RedisBackend): Mutex {
  const m = new Mutex(name, { backend });
  t.teardown(() => m.close());
  return m;
}
