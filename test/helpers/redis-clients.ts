/**
 * Clients and backends of a test's own redis-server (test/helpers/redis-server.ts), each closed
 * at the test's teardown (tap runs teardowns last registered first: what uses a client goes
 * before the client, the client before the server).
 */
import type { Test } from 'tap';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { createRedisBackend } from '../../dist';
import type { RedisServer } from './redis-server';

export type RedisBackend = ReturnType<typeof createRedisBackend>;
export type RedisBackendOptions = Parameters<typeof createRedisBackend>[0];
export type NodeRedisClient = ReturnType<typeof createClient>;

/** An ioredis client of `server`, disconnected at t's teardown. */
export function clientOf(t: Test, server: RedisServer): Redis {
  const client = new Redis({ port: server.port, host: '127.0.0.1' });
  t.teardown(() => client.disconnect());
  return client;
}

/**
 * A connected node-redis v5 client of `url` (errors ignored: it reconnects by itself),
 * destroyed at t's teardown.
 */
export async function nodeRedisOf(t: Test, url: string): Promise<NodeRedisClient> {
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  t.teardown(() => client.destroy());
  return client;
}

/** A backend created with `options`, closed at t's teardown. */
export function backendWith(t: Test, options: RedisBackendOptions): RedisBackend {
  const backend = createRedisBackend(options);
  t.teardown(() => backend.close());
  return backend;
}
