/**
 * Issue 15: the Redis queue attacked by a careless user and a hostile writer (real redis-server,
 * real processes). Each case names the rule it holds:
 * - entries written into the stream by another client (garbage fields, an unknown codec byte, a
 *   custom-codec entry for a handle without that codec, a payload beyond maxMessageSize) are
 *   consumed and make exactly the call that met them reject with a coded error; the next call goes
 *   on, good messages around them are delivered, and an ended queue still drains to its end;
 * - names with odd characters are separate queues; '{' / '}' never reach a key (hash-tag injection);
 * - timeouts: Infinity waits, NaN / negative are argument errors, huge ones neither fire early nor spin;
 * - an already aborted signal consumes and appends nothing;
 * - close() during a blocked get: the get rejects with SHMSYNC_CLOSED, the blocking connection is
 *   gone, and a process that closes its handle (and its client) exits by itself - ioredis and
 *   node-redis, also when close() races the get's first blocking read;
 * - end() racing putMany: exactly what was reported written is delivered, once;
 * - many concurrent get() on one handle: each message to exactly one;
 * - the blocking connection killed mid-XREADGROUP: the get goes on, nothing lost;
 * - ack() twice at once, ack() after close();
 * - a long run of gets with timeouts leaves no listener or timer behind.
 */
import t, { type Test } from 'tap';
import { getEventListeners } from 'node:events';
import Redis from 'ioredis';
import { RedisQueue } from '../dist/redis/queue';
import { Child, type Message } from './helpers/fork';
import { backendWith, nodeRedisOf } from './helpers/redis-clients';
import { RedisServer } from './helpers/redis-server';
import { testName } from './helpers/shm';
import { replyDropper } from './helpers/redis-queue-proxy';
import { untilEnded } from './helpers/until-ended';

t.jobs = 3;

async function setup(t: Test) {
  const server = await RedisServer.start(t);
  const client = new Redis(server.url);
  t.teardown(() => client.disconnect());
  const handles: RedisQueue<unknown>[] = [];
  const open = async <T = unknown>(name: string, o: Record<string, unknown> = {}): Promise<RedisQueue<T>> => {
    const q = new RedisQueue<T>(name, { client, codec: 'json', reclaimAfter: 500, ...o });
    handles.push(q as RedisQueue<unknown>);
    t.teardown(() => q.close());
    return q.ready();
  };
  return { server, client, open };
}

/** Client ids of the connections blocked in XREADGROUP right now. */
async function blockedReaders(client: Redis): Promise<string[]> {
  const list = (await client.client('LIST')) as string;
  return list
    .split('\n')
    .filter((l) => / cmd=xreadgroup /.test(l) && / flags=b /.test(l))
    .map((l) => /id=(\d+)/.exec(l)![1]);
}

/** Polls a condition on Redis' own state (bounded; no sleep is the synchronisation of the queue). */
async function until(what: string, f: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await f()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`never: ${what}`);
}

t.test(
  'hostile entries are consumed with a coded error each; good ones around them arrive; the end is reached',
  async (t) => {
    const { client, open } = await setup(t);
    const name = testName('rq-hostile');
    const q = await open<number>(name, { maxMessageSize: 64 });
    const key = `shmsync:queue:{${name}}`;
    await q.put(1);
    await client.xadd(key, '*', 'a', '1', 'b', '2'); // foreign fields
    await q.put(2);
    await client.xadd(key, '*', 'm', Buffer.from([0xee, 1, 2, 3])); // unknown codec byte
    await client.xadd(key, '*', 'm', ''); // empty value
    await client.xadd(key, '*', 'm', Buffer.concat([Buffer.from([3]), Buffer.from('"' + 'x'.repeat(1000) + '"')])); // json, beyond maxMessageSize
    await client.xadd(key, '*', 'x', Buffer.from([3, 0x31])); // a valid json payload under another field
    await q.put(3);
    await q.end();
    const got: unknown[] = [];
    const codes: string[] = [];
    for (let i = 0; i < 20; i++) {
      try {
        got.push(await q.get({ timeout: 2000 }));
      } catch (err) {
        const code = (err as { code?: string }).code!;
        if (code === 'SHMSYNC_QUEUE_CLOSED') break;
        codes.push(code);
      }
    }
    t.same(got, [1, 2, 3], 'the good messages, in order');
    t.same(
      codes,
      ['SHMSYNC_CODEC', 'SHMSYNC_CODEC', 'SHMSYNC_CODEC', 'SHMSYNC_TOO_LARGE', 'SHMSYNC_CODEC'],
      'one coded error per hostile entry, in stream order',
    );
    t.equal(await q.length(), 0, 'every hostile entry was removed');
    t.equal(await client.xlen(key), 0);
  },
);

t.test('a hostile entry arriving while a get is blocked: that get rejects, the next one goes on', async (t) => {
  const { client, open } = await setup(t);
  const name = testName('rq-hostile-b');
  const q = await open<number>(name, { maxMessageSize: 16 });
  const key = `shmsync:queue:{${name}}`;
  const blocked = q.get({ timeout: 5000 });
  await until('the get is blocked', async () => (await blockedReaders(client)).length === 1);
  await client.xadd(key, '*', 'm', Buffer.alloc(100, 3)); // beyond maxMessageSize, read by XREADGROUP itself
  await t.rejects(blocked, { code: 'SHMSYNC_TOO_LARGE' });
  const next = q.get({ timeout: 5000 });
  await until('blocked again', async () => (await blockedReaders(client)).length === 1);
  await client.xadd(key, '*', 'q', 'r', 's', 't');
  await t.rejects(next, { code: 'SHMSYNC_CODEC' }, 'foreign fields read by the blocking read');
  await q.put(7);
  t.equal(await q.get({ timeout: 5000 }), 7);
  t.equal(await q.length(), 0);
});

t.test('names: odd characters are separate queues; braces never reach a key', async (t) => {
  const { client, open } = await setup(t);
  const base = testName('rq-names');
  const names = [`${base} sp`, `${base}:colon`, `${base}\nnl`, `${base}-日本`, `${base}*?[x]`];
  const qs = await Promise.all(names.map((n) => open<string>(n)));
  await Promise.all(qs.map((q, i) => q.put(names[i])));
  for (let i = 0; i < qs.length; i++) t.equal(await qs[i].get({ timeout: 1000 }), names[i], JSON.stringify(names[i]));
  t.throws(() => new RedisQueue(`${base}}x`, { client }), { code: 'SHMSYNC_OUT_OF_RANGE' });
  t.throws(() => new RedisQueue(`x{${base}`, { client }), { code: 'SHMSYNC_OUT_OF_RANGE' });
  t.throws(
    () => new RedisQueue(base, { client, prefix: 'evil{tag}' }),
    { code: 'SHMSYNC_OUT_OF_RANGE' },
    'a prefix with braces would steer the hash slot of every queue',
  );
  t.throws(() => new RedisQueue(base, { client, prefix: 'x{' }), { code: 'SHMSYNC_OUT_OF_RANGE' });
});

t.test(
  'timeouts: Infinity waits, NaN / negative are argument errors, a huge one neither fires early nor spins',
  async (t) => {
    const { open } = await setup(t);
    const q = await open<number>(testName('rq-timeouts'));
    await t.rejects(q.get({ timeout: NaN }), { code: 'SHMSYNC_OUT_OF_RANGE' });
    await t.rejects(q.get({ timeout: -1 }), { code: 'SHMSYNC_OUT_OF_RANGE' });
    await t.rejects(q.put(1, { timeout: NaN }), { code: 'SHMSYNC_OUT_OF_RANGE' });
    t.equal(await q.length(), 0, 'a rejected put appended nothing');
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    t.teardown(() => process.off('warning', onWarning));
    // Two waiters on one handle: the second waits for the first one's blocking read.
    const a = q.get({ timeout: 2 ** 40 });
    const b = q.get({ timeout: Infinity });
    const c = q.get({ timeout: Number.MAX_SAFE_INTEGER });
    let settled = false;
    void Promise.allSettled([a, b, c]).then(() => (settled = true));
    await t.rejects(q.get({ timeout: 300 }), { code: 'SHMSYNC_TIMEOUT' }, 'a short wait beside them times out');
    t.equal(settled, false, 'the huge waits are still waiting');
    await q.putMany([1, 2, 3]);
    t.same((await Promise.all([a, b, c])).sort(), [1, 2, 3]);
    await new Promise((r) => setImmediate(r));
    t.same(warnings, [], 'no TimeoutOverflowWarning (a timer beyond 2^31-1 ms fires at once)');
  },
);

t.test('an already aborted signal: nothing is consumed or appended', async (t) => {
  const { open } = await setup(t);
  const q = await open<number>(testName('rq-aborted'));
  const signal = AbortSignal.abort();
  await q.put(1);
  await t.rejects(q.get({ signal }), { name: 'AbortError' });
  await t.rejects(q.getMany(5, { signal }), { name: 'AbortError' });
  await t.rejects(q.receive({ signal }), { name: 'AbortError' });
  await t.rejects(
    q.drain(() => {}, { signal }),
    { name: 'AbortError' },
  );
  await t.rejects(q.put(2, { signal }), { name: 'AbortError', written: 0 });
  await t.rejects(q.putMany([3, 4], { signal }), { name: 'AbortError', written: 0 });
  t.equal(await q.length(), 1);
  t.equal(await q.get(), 1, 'the message is still there');
});

t.test('close() during a blocked get: SHMSYNC_CLOSED, the blocking connection is gone', async (t) => {
  const { client, open } = await setup(t);
  const q = await open<number>(testName('rq-close-blocked'));
  const blocked = q.get().catch((err: unknown) => err);
  await until('the get is blocked', async () => (await blockedReaders(client)).length === 1);
  const before = ((await client.client('LIST')) as string).trim().split('\n').length;
  await q.close();
  t.match(await blocked, { code: 'SHMSYNC_CLOSED' }, 'the blocked get rejects');
  await until('its connection closed', async () => {
    const now = ((await client.client('LIST')) as string).trim().split('\n').length;
    return now === before - 1;
  });
  t.same(await blockedReaders(client), [], 'nobody blocked any more');
  await t.rejects(q.get(), { code: 'SHMSYNC_CLOSED' }, 'later calls reject too');
});

for (const flavour of ['ioredis', 'node-redis']) {
  t.test(
    `[${flavour}] a process that closes its handles (blocked get; close racing a get) exits by itself`,
    async (t) => {
      const server = await RedisServer.start(t);
      const child = new Child('redis-queue-exit.js', [server.url, testName('rq-exit'), flavour]);
      t.teardown(() => child.kill());
      const m = await child.message<Message & { codes: string[] }>('closed');
      t.same(m.codes, ['SHMSYNC_CLOSED', 'SHMSYNC_CLOSED'], 'both gets rejected with SHMSYNC_CLOSED');
      t.same(await child.exited, { code: 0, signal: null }, 'it exited on its own (nothing left open)');
    },
  );
}

t.test('end() racing putMany: exactly what was reported written is delivered, once', async (t) => {
  const { open } = await setup(t);
  const name = testName('rq-end-race');
  const producers = await Promise.all([0, 1, 2, 3].map(() => open<number>(name)));
  const consumer = await open<number>(name);
  const written = [0, 0, 0, 0];
  const runs = producers.map(async (p, k) => {
    for (let b = 0; b < 40; b++) {
      const batch = Array.from({ length: 50 }, (_, i) => k * 1_000_000 + b * 50 + i);
      try {
        await p.putMany(batch);
        written[k] += 50;
      } catch (err) {
        t.equal((err as { code?: string }).code, 'SHMSYNC_QUEUE_CLOSED', 'a put after end() is ReadOnly');
        written[k] += (err as { written: number }).written;
        return;
      }
    }
    t.fail(`producer ${k} finished before end()`);
  });
  const got: number[] = [];
  let ending: Promise<void> | null = null;
  const reading = untilEnded(
    () => consumer.getMany(500),
    (batch) => {
      got.push(...batch);
      if (ending === null && got.length >= 300) ending = producers[0].end(); // while they still put
    },
  );
  await Promise.all(runs);
  await reading;
  await ending;
  t.equal(new Set(got).size, got.length, 'nothing twice');
  t.equal(
    got.length,
    written.reduce((a, b) => a + b),
    'everything reported written, nothing else',
  );
  for (let k = 0; k < 4; k++) {
    const mine = got.filter((v) => Math.floor(v / 1_000_000) === k);
    t.same(
      mine,
      Array.from({ length: written[k] }, (_, i) => k * 1_000_000 + i),
      `producer ${k}: in order, a prefix`,
    );
  }
});

t.test('many concurrent get() on one handle: each message to exactly one', async (t) => {
  const { open } = await setup(t);
  const q = await open<number>(testName('rq-many-gets'));
  const producer = await open<number>(q.name);
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.name);
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  const n = 200;
  const gets = Array.from({ length: n }, () => q.get({ timeout: 10_000 }));
  await producer.putMany(Array.from({ length: n }, (_, i) => i));
  const got = await Promise.all(gets);
  await new Promise((r) => setImmediate(r));
  t.same(warnings, [], 'no MaxListenersExceededWarning for 200 waits of one handle');
  t.same(
    [...got].sort((a, b) => a - b),
    Array.from({ length: n }, (_, i) => i),
  );
  t.equal(await q.length(), 0);
});

for (const flavour of ['ioredis', 'node-redis']) {
  t.test(`[${flavour}] the blocking connection killed mid-XREADGROUP: the get goes on, nothing lost`, async (t) => {
    const { server, client } = await setup(t);
    let c: unknown;
    if (flavour === 'ioredis') c = client;
    else {
      c = await nodeRedisOf(t, server.url);
    }
    const q = new RedisQueue<number>(testName('rq-kill-conn'), { client: c, codec: 'json', reclaimAfter: 300 });
    t.teardown(() => q.close());
    await q.ready();
    const waiting = q.get({ timeout: 10_000 });
    await until('blocked', async () => (await blockedReaders(client)).length === 1);
    const [id] = await blockedReaders(client);
    await client.client('KILL', 'ID', id);
    await until('blocked again (reconnected)', async () => {
      const now = await blockedReaders(client);
      return now.length === 1 && now[0] !== id;
    });
    await q.put(5);
    t.equal(await waiting, 5, 'the get that was blocked receives the next message');
    await q.put(6);
    t.equal(await q.get({ timeout: 5000 }), 6);
  });
}

t.test('ack() twice at once resolves both; ack() after close() is SHMSYNC_CLOSED', async (t) => {
  const { open } = await setup(t);
  const q = await open<number>(testName('rq-ack'), { reclaimAfter: 60_000 });
  await q.putMany([1, 2]);
  const m = await q.receive();
  await Promise.all([m.ack(), m.ack()]);
  t.equal(await q.length(), 1, 'acknowledged once');
  const n = await q.receive();
  await q.close();
  await t.rejects(n.ack(), { code: 'SHMSYNC_CLOSED' });
  const other = await open<number>(q.name, { reclaimAfter: 60_000 });
  t.equal(await other.get({ timeout: 1000 }), 2, 'close() handed the unacknowledged message back');
});

t.test('a long run of gets with timeouts leaves no listener and no timer behind', async (t) => {
  const { open } = await setup(t);
  const q = await open<number>(testName('rq-leak'));
  const ac = new AbortController();
  const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  await t.rejects(q.get({ timeout: 1, signal: ac.signal }), { code: 'SHMSYNC_TIMEOUT' });
  const before = timers();
  const codes = new Set<string>();
  for (let i = 0; i < 50; i++) codes.add(await q.get({ timeout: 1, signal: ac.signal }).catch((e) => e.code));
  t.same([...codes], ['SHMSYNC_TIMEOUT'], '50 gets timed out');
  const concurrent = Array.from({ length: 8 }, () => q.get({ timeout: 20, signal: ac.signal }).catch((e) => e.code));
  t.same(new Set(await Promise.all(concurrent)), new Set(['SHMSYNC_TIMEOUT']));
  t.equal(getEventListeners(ac.signal, 'abort').length, 0, 'no abort listener left on the signal');
  // The count is process-wide (ioredis keeps its own timers, which come and go): a leak would leave
  // one timer per get (58 here), so a few more than before is still no leak.
  t.ok(timers() - before < 5, `no timer left per get (${before} -> ${timers()})`);
});

t.test(
  'node-redis v5 client, createRedisBackend({ client }) and backend.queue(): the queue API end to end',
  async (t) => {
    const server = await RedisServer.start(t);
    const nr = await nodeRedisOf(t, server.url);
    const backend = backendWith(t, { client: nr, prefix: 'app:' });
    t.equal(backend.clientFlavour, 'node-redis');
    const name = testName('rq-nr');
    const a = backend.queue<Uint8Array>(name, { codec: 'raw', reclaimAfter: 300 });
    const b = new RedisQueue<Uint8Array>(name, { backend, codec: 'raw', reclaimAfter: 300 });
    t.teardown(() => a.close());
    t.teardown(() => b.close());
    await Promise.all([a.ready(), b.ready()]);
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const waiting = b.get({ timeout: 5000 }); // a blocking read on node-redis's duplicate
    await a.put(bytes);
    t.same(Buffer.from(await waiting), bytes, 'binary payload through a blocking read');
    t.equal(await nr.xLen(`app:queue:{${name}}`), 0, "keys under the backend's prefix");
    t.equal(await a.length(), 0);
    await a.putMany([Buffer.from('x'), Buffer.from('y'), Buffer.from('z')]);
    t.equal(a.size, 3, 'size: the last length this handle saw');
    const m = await b.receive();
    t.same(Buffer.from(m.value).toString(), 'x');
    await m.release();
    t.same((await a.getMany(10)).map((v) => Buffer.from(v).toString()).sort(), ['x', 'y', 'z']);
    t.equal(await a.tryGet(), undefined);
    t.equal(await a.tryPut(Buffer.from('w')), true);
    const info = await a.info();
    t.match(info, { size: 1, ended: false }, 'info() over node-redis');
    await a.end();
    const rest: string[] = [];
    for await (const v of b) rest.push(Buffer.from(v).toString());
    t.same(rest, ['w'], 'for await drains, then ends');
    await t.rejects(a.put(Buffer.from('late')), { code: 'SHMSYNC_QUEUE_CLOSED' });
    t.throws(() => new RedisQueue(name, { backend: { client: {} } }), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
  },
);

for (const flavour of ['ioredis', 'node-redis']) {
  t.test(`[${flavour}] the reply of a blocking XREADGROUP lost: the message is not lost`, async (t) => {
    const { server, client } = await setup(t);
    const proxy = await replyDropper(server.port);
    t.teardown(() => proxy.close());
    let c: unknown;
    if (flavour === 'ioredis') {
      const r = new Redis(proxy.port, '127.0.0.1', { retryStrategy: () => 5 });
      r.on('error', () => {});
      t.teardown(() => r.disconnect());
      c = r;
    } else {
      c = await nodeRedisOf(t, `redis://127.0.0.1:${proxy.port}`);
    }
    const reclaimAfter = 1000; // blocked reads of 500 ms: the put below lands in the armed one
    const q = new RedisQueue<number>(testName('rq-lost-read'), { client: c, codec: 'json', reclaimAfter });
    t.teardown(() => q.close());
    await q.ready();
    await t.rejects(q.get({ timeout: 10 }), { code: 'SHMSYNC_TIMEOUT' }); // scripts loaded, blocking connection open
    const other = new RedisQueue<number>(q.name, { client, codec: 'json' });
    t.teardown(() => other.close());
    await other.ready();
    const dropped = proxy.dropReplyTo('XREADGROUP'); // the next blocking read's reply is lost
    const waiting = q.get({ timeout: 20 * reclaimAfter });
    await until('blocked', async () => (await blockedReaders(client)).length === 1);
    await other.put(9); // read by the blocked XREADGROUP (unless its slice just ended): its reply is lost
    await dropped;
    t.equal(await waiting, 9, 'delivered after all (reclaimed from our own PEL when it was in the lost reply)');
    t.equal(await q.length(), 0, 'and acknowledged once');
  });
}
