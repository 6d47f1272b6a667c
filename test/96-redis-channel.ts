/**
 * Issue 15: a pcall-free Channel shared through the Redis queue. `mkchannel({ shared: queue })`
 * with a RedisQueue: a writer in one process and a reader in another exchange every item in
 * order; closing the channel ends the stream for the other process's reader (it drains, then its
 * iteration ends); reads with a timeout return what is there; an abort rejects with AbortError.
 */
import t, { type Test } from 'tap';
import Redis from 'ioredis';
import { mkchannel } from '../dist';
import { RedisQueue } from '../dist/redis/queue';
import { Child, type Message } from './helpers/fork';
import { backendWith, nodeRedisOf } from './helpers/redis-clients';
import { RedisServer } from './helpers/redis-server';
import { testName } from './helpers/shm';

async function setup(t: Test) {
  const server = await RedisServer.start(t);
  const client = new Redis(server.url);
  t.teardown(() => client.disconnect());
  const name = testName('rq-chan');
  const q = new RedisQueue<number>(name, { client, codec: 'json', reclaimAfter: 500 });
  t.teardown(() => q.close());
  await q.ready();
  const peer = async (mode: 'read' | 'write', n = 0): Promise<Child> => {
    const child = new Child('redis-channel-peer.js', [server.url, name, mode, String(n)]);
    t.teardown(() => child.kill());
    await child.message('ready');
    return child;
  };
  return { q, peer };
}

t.jobs = 2;

t.test('writer here, reader in another process: every item once, in order; close ends its iteration', async (t) => {
  const { q, peer } = await setup(t);
  const [writer, reader] = mkchannel<number>({ shared: q });
  reader.close(); // this process only writes
  t.equal(writer.channel.shared, true, 'a shared channel');
  const child = await peer('read');
  const n = 500;
  for (let i = 0; i < n; i++) await writer.write(i);
  writer.close();
  const done = await child.message<Message & { values: number[] }>('done');
  t.same(
    done.values,
    Array.from({ length: n }, (_, i) => i),
    'the reader got every item in order, then its loop ended',
  );
  t.same(await child.exited, { code: 0, signal: null });
});

t.test('writer in another process, reader here; timeouts and abort on the reader', async (t) => {
  const { q, peer } = await setup(t);
  const [writer, reader] = mkchannel<number>({ shared: q });
  writer.release(); // this process only reads
  t.same(await reader.read(1, { timeout: 50 }), [], 'a read with a timeout on an empty channel returns []');
  const ac = new AbortController();
  const aborted = t.rejects(reader.read(1, { signal: ac.signal }), { name: 'AbortError' }, 'an aborted read rejects');
  ac.abort();
  await aborted;
  const n = 300;
  const child = await peer('write', n);
  const got: number[] = [];
  for await (const v of reader) got.push(v);
  t.same(
    got,
    Array.from({ length: n }, (_, i) => i),
    'every item once, in order, then the iteration ended (closed)',
  );
  await child.message('done');
  t.equal(reader.channel.closed(), true, 'the channel reads as closed here');
});

t.test(
  'in one process over node-redis (backend.queue): write/read/size/close/for await; a full queue times out',
  async (t) => {
    const server = await RedisServer.start(t);
    const backend = backendWith(t, { client: await nodeRedisOf(t, server.url) });
    const q = backend.queue<number>(testName('rq-chan-nr'), { codec: 'json', maxLength: 2, reclaimAfter: 500 });
    t.teardown(() => q.close());
    await q.ready();
    const [writer, reader] = mkchannel<number>({ shared: q });
    await writer.write(1);
    await writer.write(2);
    t.equal(writer.channel.size(), 2, 'size(): the length the queue handle last saw');
    await t.rejects(
      writer.write(3, { timeout: 0 }),
      { code: 'SHMSYNC_TIMEOUT' },
      'a full queue: write({ timeout: 0 }) times out',
    );
    t.same(await reader.read(1), [1]);
    await writer.write(3);
    writer.close();
    const rest: number[] = [];
    for await (const v of reader) rest.push(v);
    t.same(rest, [2, 3], 'the rest in order, then the iteration ends (closed)');
    t.equal(writer.channel.size(), 0, 'size() is 0 once drained');
    t.equal(reader.channel.closed(), true);
  },
);
