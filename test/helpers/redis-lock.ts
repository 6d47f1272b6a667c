/**
 * Fixtures of the Redis lock tests: a server with two clients, lock backends with a lease and
 * Mutex handles, each closed at the test's teardown (tap runs teardowns last registered first:
 * handles, then backends, then clients, then the server).
 */
import type { Test } from 'tap';
import type Redis from 'ioredis';
import { Mutex } from '../../dist';
import { backendWith, clientOf, type RedisBackend } from './redis-clients';
import { RedisServer } from './redis-server';

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
