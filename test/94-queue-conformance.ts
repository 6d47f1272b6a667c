/**
 * Issue 15: one queue suite, two backends. The behaviours of test/helpers/queue-conformance.ts
 * run against the shared-memory ring (ShmQueue) and against Redis Streams (RedisQueue on a real
 * redis-server started for this file).
 */
import t, { type Test } from 'tap';
import Redis from 'ioredis';
import { ShmQueue } from '../dist';
import { RedisQueue } from '../dist/redis/queue';
import { queueConformance, type ConformingQueue, type QueueBackend } from './helpers/queue-conformance';
import { RedisServer } from './helpers/redis-server';
import { testName } from './helpers/shm';

const shm: QueueBackend = {
  name: 'shm',
  async create<T>(t: Test, tag: string, options: { codec?: unknown; bounded?: boolean } = {}) {
    const name = testName(`conf-${tag}`);
    const codec = options.codec as never;
    const q = new ShmQueue<T>(name, { create: 'create', codec, ...(options.bounded ? { capacity: 1024 } : {}) });
    const handles: ShmQueue<T>[] = [q];
    t.teardown(() => {
      for (const h of handles) h.close();
      ShmQueue.unlink(name);
    });
    return {
      q: q as unknown as ConformingQueue<T>,
      async open(o: { codec?: unknown } = {}) {
        const h = new ShmQueue<T>(name, { create: 'open', codec: (o.codec ?? codec) as never });
        handles.push(h);
        return h as unknown as ConformingQueue<T>;
      },
      size: async () => q.size,
    };
  },
};

t.test('shm backend', async (t) => queueConformance(t, shm));

t.test('redis backend', async (t) => {
  const server = await RedisServer.start(t);
  const client = new Redis(server.url);
  t.teardown(() => client.disconnect());
  const redis: QueueBackend = {
    name: 'redis',
    async create<T>(t: Test, tag: string, options: { codec?: unknown; bounded?: boolean } = {}) {
      const name = testName(`conf-${tag}`);
      const codec = options.codec as never;
      const q = new RedisQueue<T>(name, {
        client,
        codec,
        reclaimAfter: 500,
        ...(options.bounded ? { maxLength: 5 } : {}),
      });
      const handles: RedisQueue<T>[] = [q];
      t.teardown(async () => {
        for (const h of handles) await h.close();
        await q.unlink();
      });
      await q.ready();
      return {
        q: q as unknown as ConformingQueue<T>,
        async open(o: { codec?: unknown } = {}) {
          const h = new RedisQueue<T>(name, { client, codec: (o.codec ?? codec) as never, reclaimAfter: 500 });
          handles.push(h);
          return (await h.ready()) as unknown as ConformingQueue<T>;
        },
        size: () => q.length(),
      };
    },
  };
  queueConformance(t, redis);
});
