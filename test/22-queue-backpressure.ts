import t, { type Test } from 'tap';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { promisify } from 'node:util';
import { ShmQueue, type ShmQueueOptions } from '../dist';
import { Child, type Message } from './helpers/fork';
import { testName } from './helpers/shm';

function queueFor<T = unknown>(t: Test, tag: string, options: ShmQueueOptions<T> = {}): ShmQueue<T> {
  const q = new ShmQueue<T>(testName(`q-${tag}`), { create: 'create', ...options });
  t.teardown(() => {
    q.close();
    ShmQueue.unlink(q.name);
  });
  return q;
}

/** Fills a queue with copies of `value` until tryPut fails; returns how many went in. */
function fill<T>(q: ShmQueue<T>, value: (i: number) => T): number {
  let n = 0;
  while (q.tryPut(value(n))) n += 1;
  return n;
}

/** Polls (1 ms period) until `cond()` holds: for states only shared memory shows, like a sleeper. */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Tracks whether a promise has settled (without consuming its outcome). */
function track<T>(p: Promise<T>): { settled: () => boolean; promise: Promise<T> } {
  let done = false;
  const promise = p.finally(() => {
    done = true;
  });
  promise.catch(() => {});
  return { settled: () => done, promise };
}

/** One full turn of the event loop: pending I/O callbacks and parker deliveries run. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function agent(t: Test): Promise<Child> {
  const child = new Child('queue-agent.js');
  t.teardown(() => child.kill());
  await child.message('ready');
  return child;
}

async function finish(t: Test, child: Child): Promise<void> {
  child.send({ type: 'exit' });
  t.same(await child.exited, { code: 0, signal: null }, 'the child exits on its own with code 0');
}

t.test(
  'a full queue makes put wait and tryPut return false until a consumer in another process frees space',
  async (t) => {
    const q = queueFor<Buffer>(t, 'bp-full', { codec: 'raw', capacity: 1024 });
    const n = fill(q, (i) => Buffer.alloc(100, i));
    t.equal(q.tryPut(Buffer.alloc(100)), false, 'full: tryPut returns false');
    const pending = track(q.put(Buffer.alloc(100, 0xaa)));
    await turn();
    t.equal(pending.settled(), false, 'put is waiting');
    t.equal(q.info().producersWaiting, 1, 'recorded as a sleeping producer (parked)');
    t.equal(q.tryPut(Buffer.alloc(100)), false, 'tryPut still false while put waits');
    t.equal(q.size, n);
    const child = await agent(t);
    child.send({ type: 'take', name: q.name, n: 1 });
    const { values } = await child.message<Message & { values: Buffer[] }>('taken');
    t.same(Buffer.from(values[0]), Buffer.alloc(100, 0), 'the child took the oldest message');
    await pending.promise;
    t.pass('the pending put resolved once the child freed space');
    t.equal(q.info().producersWaiting, 0, 'no sleeper left behind');
    t.equal(q.size, n, 'full again, with the waiting message last');
    const all: Buffer[] = [];
    for (let v = q.tryGet(); v !== undefined; v = q.tryGet()) all.push(v);
    t.same(all[all.length - 1], Buffer.alloc(100, 0xaa));
    await finish(t, child);
  },
);

t.test('a blocking putSync in another process returns once this process frees space', async (t) => {
  const q = queueFor<string>(t, 'bp-putsync', { codec: 'string', capacity: 1024 });
  fill(q, (i) => `m${i}`.padEnd(50, '.'));
  const child = await agent(t);
  child.send({ type: 'put-sync', name: q.name, value: 'from the child' });
  await until(() => q.info().producersWaiting === 1, 'the child sleeps in putSync');
  t.equal(q.tryGet(), 'm0'.padEnd(50, '.'));
  t.match(await child.message('put'), { ok: true }, 'its putSync returned true');
  const rest: string[] = [];
  for (let v = q.tryGet(); v !== undefined; v = q.tryGet()) rest.push(v);
  t.equal(rest[rest.length - 1], 'from the child');
  await finish(t, child);
});

t.test('put and get timeouts; putMany reports how many were written', async (t) => {
  const q = queueFor<Buffer>(t, 'bp-timeout', { codec: 'raw', capacity: 1024 });
  const timeout = { name: 'TimeoutError', code: 'SHMSYNC_TIMEOUT' };
  let start = performance.now();
  await t.rejects(q.get({ timeout: 30 }), timeout, 'get on an empty queue times out');
  t.ok(performance.now() - start >= 25, 'after about the timeout');
  await t.rejects(q.getMany(4, { timeout: 0 }), timeout, 'getMany with timeout 0 on an empty queue');
  t.equal(q.info().consumersWaiting, 0, 'timed-out getters are no longer counted as sleeping');
  const n = fill(q, () => Buffer.alloc(200));
  t.ok(q.tryGet());
  // One 200-byte record fits now, the next two do not.
  start = performance.now();
  await t.rejects(
    q.putMany([Buffer.alloc(200, 1), Buffer.alloc(200, 2), Buffer.alloc(200, 3)], { timeout: 30 }),
    { ...timeout, written: 1 },
    'putMany: written 1 of 3',
  );
  t.ok(performance.now() - start >= 25, 'after about the timeout');
  await t.rejects(
    q.put(Buffer.alloc(200), { timeout: 20 }),
    { ...timeout, written: 0 },
    'put on a full queue times out, written 0',
  );
  t.equal(q.info().producersWaiting, 0, 'timed-out putters are no longer counted as sleeping');
  t.equal(q.size, n, 'exactly one of the three went in');
  const all: Buffer[] = [];
  for (let v = q.tryGet(); v !== undefined; v = q.tryGet()) all.push(v);
  t.same(all[all.length - 1], Buffer.alloc(200, 1), 'the one written is the first of the batch');
  q.putSync(Buffer.from('after'));
  t.same(await q.get({ timeout: 1000 }), Buffer.from('after'), 'the queue works after the timeouts');
});

t.test('AbortSignal: aborted before the call, nothing happens; aborted during the wait, the wait ends', async (t) => {
  const q = queueFor<number>(t, 'bp-abort', { capacity: 1024 });
  const abortError = { name: 'AbortError', code: 'ABORT_ERR' };
  const aborted = AbortSignal.abort(new Error('stop'));
  // Before: with space and data available, an aborted signal still rejects and changes nothing.
  await t.rejects(q.put(1, { signal: aborted }), { ...abortError, written: 0 }, 'put with an aborted signal rejects');
  await t.rejects(q.putMany([1, 2], { signal: aborted }), { ...abortError, written: 0 });
  t.equal(q.size, 0, 'and writes nothing');
  q.putSync(7);
  await t.rejects(q.get({ signal: aborted }), abortError, 'get with an aborted signal rejects');
  await t.rejects(q.getMany(3, { signal: aborted }), abortError);
  t.equal(q.size, 1, 'and takes nothing');
  const err = await q.get({ signal: aborted }).catch((e: Error) => e);
  t.match((err as Error).cause, { message: 'stop' }, 'the abort reason is the cause');
  t.equal(q.tryGet(), 7);

  // During: a waiting get.
  const ac1 = new AbortController();
  const get = track(q.get({ signal: ac1.signal }));
  await turn();
  t.equal(get.settled(), false);
  t.equal(q.info().consumersWaiting, 1);
  ac1.abort();
  await t.rejects(get.promise, abortError, 'a waiting get rejects on abort');
  t.equal(q.info().consumersWaiting, 0, 'and is withdrawn');
  q.putSync(8);
  t.equal(q.tryGet(), 8, 'a message put after the abort is not taken by the withdrawn get');

  // During: a waiting putMany that wrote part of its batch.
  const n = fill(q, (i) => i);
  q.tryGet();
  q.tryGet();
  const ac2 = new AbortController();
  const put = track(q.putMany([100, 101, 102, 103], { signal: ac2.signal }));
  await turn();
  t.equal(put.settled(), false, 'putMany waits for room for the rest');
  t.equal(q.info().producersWaiting, 1);
  ac2.abort();
  await t.rejects(put.promise, { ...abortError, written: 2 }, 'abort during putMany: written says 2');
  t.equal(q.info().producersWaiting, 0);
  t.equal(q.size, n);
  const all: number[] = [];
  for (let v = q.tryGet(); v !== undefined; v = q.tryGet()) all.push(v);
  t.same(all.slice(-2), [100, 101], 'the first two of the batch went in, in order');
});

t.test(
  'end() while readers and writers wait in this process: waiting getters drain, then everyone gets ReadOnly',
  async (t) => {
    const empty = queueFor<string>(t, 'bp-close-empty', { codec: 'string', capacity: 1024 });
    const full = queueFor<string>(t, 'bp-close-full', { codec: 'string', capacity: 1024 });
    fill(full, (i) => `f${i}`);
    const readOnly = { name: 'ReadOnly', code: 'SHMSYNC_QUEUE_CLOSED' };
    const seen: string[] = [];
    const get1 = empty.get();
    const getMany = empty.getMany(10);
    const iterated = (async () => {
      for await (const v of empty) seen.push(v);
      return 'ended';
    })();
    const put = full.put('late').catch((e: Error) => e);
    const putMany = full.putMany(['late1', 'late2']).catch((e: Error) => e);
    await turn();
    t.equal(empty.info().consumersWaiting, 3, 'three getters wait');
    t.equal(full.info().producersWaiting, 2, 'two putters wait');
    // Two messages and the end() land before any waiter runs: they are drained first.
    empty.putSync('a');
    empty.putSync('b');
    empty.end();
    full.end();
    const [g1, gm, it] = await Promise.all([get1, getMany.catch((e) => e), iterated]);
    const delivered = [g1, ...(Array.isArray(gm) ? gm : []), ...seen];
    t.same(delivered.sort(), ['a', 'b'], 'the two messages put before end() were delivered once each');
    t.equal(it, 'ended', 'the async iterator ended');
    t.match(await put, { ...readOnly, written: 0 }, 'a waiting put gets ReadOnly');
    t.match(await putMany, { ...readOnly, written: 0 }, 'a waiting putMany gets ReadOnly, nothing written');
    await t.rejects(empty.get(), readOnly, 'a get after the drain gets ReadOnly');
    t.equal(empty.info().consumersWaiting + full.info().producersWaiting, 0, 'no sleeper left');
    t.equal(full.tryGet(), 'f0', 'the full queue still drains after end()');
  },
);

t.test('end() while readers and writers wait in another process (async and blocking waits)', async (t) => {
  const empty = queueFor(t, 'bp-xclose-empty', { capacity: 1024 });
  const full = queueFor(t, 'bp-xclose-full', { capacity: 1024 });
  const sleepy = queueFor(t, 'bp-xclose-sync-empty', { capacity: 1024 });
  const sleepyFull = queueFor(t, 'bp-xclose-sync-full', { capacity: 1024 });
  fill(full, (i) => `f${i}`);
  fill(sleepyFull, (i) => `f${i}`);
  const asyncChild = await agent(t);
  const getSyncChild = await agent(t);
  const putSyncChild = await agent(t);
  asyncChild.send({ type: 'wait-all', empty: empty.name, full: full.name });
  await asyncChild.message('waiting');
  getSyncChild.send({ type: 'get-sync', name: sleepy.name });
  putSyncChild.send({ type: 'put-sync', name: sleepyFull.name, value: 'blocked' });
  await until(
    () => empty.info().consumersWaiting === 3 && full.info().producersWaiting === 2,
    'the async waits are parked',
  );
  await until(
    () => sleepy.info().consumersWaiting === 1 && sleepyFull.info().producersWaiting === 1,
    'the blocking waits sleep',
  );
  empty.end();
  full.end();
  sleepy.end();
  sleepyFull.end();
  const { outcomes } = await asyncChild.message<Message & { outcomes: unknown[] }>('settled');
  const readOnly = { ok: false, name: 'ReadOnly', code: 'SHMSYNC_QUEUE_CLOSED' };
  t.match(
    outcomes,
    [
      { op: 'get', ...readOnly },
      { op: 'getMany', ...readOnly },
      { op: 'iterate', ok: true, value: [] },
      { op: 'put', ...readOnly, written: 0 },
      { op: 'putMany', ...readOnly, written: 0 },
    ],
    'getters got ReadOnly, the iterator ended, putters got ReadOnly with written 0',
  );
  t.match(await getSyncChild.message('got'), readOnly, 'a blocking getSync in another process wakes with ReadOnly');
  t.match(await putSyncChild.message('put'), readOnly, 'a blocking putSync in another process wakes with ReadOnly');
  for (const q of [empty, full, sleepy, sleepyFull])
    t.match(q.info(), { consumersWaiting: 0, producersWaiting: 0, ended: true });
  await finish(t, asyncChild);
  await finish(t, getSyncChild);
  await finish(t, putSyncChild);
});

t.test('close() in another process releases only its handle; end() there ends the stream here', async (t) => {
  const q = queueFor<string>(t, 'bp-verbs', { codec: 'string', capacity: 1024 });
  const child = await agent(t);
  child.send({ type: 'put-sync', name: q.name, value: 'before' });
  t.match(await child.message('put'), { ok: true });
  child.send({ type: 'close', name: q.name });
  t.match(
    await child.message('closed'),
    { closed: true, error: 'SHMSYNC_CLOSED' },
    "the child's handle is closed, and using it is SHMSYNC_CLOSED",
  );
  t.equal(q.ended, false, 'the stream has not ended for this process');
  t.equal(q.closed, false, 'this handle is still open');
  t.equal(q.tryGet(), 'before', 'the message put before the close is still here');
  q.putSync('after');
  t.equal(q.tryGet(), 'after', 'this handle still puts and gets');
  child.send({ type: 'put-sync', name: q.name, value: 'reopened' });
  t.match(await child.message('put'), { ok: true }, 'a new handle in the child still puts');
  t.equal(q.tryGet(), 'reopened');
  child.send({ type: 'end', name: q.name });
  t.match(await child.message('ended'), { ended: true, closed: false }, "end() leaves the child's handle open");
  t.equal(q.ended, true, 'end() in another process ended the stream here');
  t.equal(q.closed, false, 'and did not close this handle');
  t.throws(() => q.tryPut('late'), { name: 'ReadOnly', code: 'SHMSYNC_QUEUE_CLOSED' }, 'puts here fail with ReadOnly');
  await finish(t, child);
});

t.test(
  'one message wakes a blocked getter in another process even after a parked get here was withdrawn',
  async (t) => {
    // Regression: a put of one record used to wake a single futex waiter, which could be this
    // process's parker thread still sleeping for the withdrawn get, leaving the child asleep.
    const q = queueFor<string>(t, 'bp-stale-wake', { codec: 'string', capacity: 1024 });
    const ac = new AbortController();
    const withdrawn = q.get({ signal: ac.signal }).catch((e: Error) => e.name);
    await turn();
    const child = await agent(t);
    child.send({ type: 'get-sync', name: q.name });
    await until(() => q.info().consumersWaiting === 2, 'the child sleeps in getSync too');
    ac.abort();
    t.equal(await withdrawn, 'AbortError');
    q.putSync('one');
    t.match(await child.message('got'), { ok: true, value: 'one' }, 'the child woke and got it');
    await finish(t, child);
  },
);

t.test('waiting never uses the libuv threadpool: 100 pending gets, fs and crypto still run', async (t) => {
  const q = queueFor<number>(t, 'bp-pool');
  let settled = 0;
  const got: number[] = [];
  const gets = Array.from({ length: 100 }, () =>
    q.get().then((v) => {
      settled += 1;
      got.push(v);
    }),
  );
  t.equal(q.info().consumersWaiting, 100, '100 Promise getters wait');
  const start = performance.now();
  const pbkdf2 = promisify(crypto.pbkdf2);
  // More jobs than threadpool threads (4): each would starve if the waits occupied the pool.
  await Promise.all([
    ...Array.from({ length: 8 }, () => fs.promises.readFile(__filename)),
    ...Array.from({ length: 8 }, () => pbkdf2('secret', 'salt', 1_000, 32, 'sha256')),
  ]);
  const ms = performance.now() - start;
  t.equal(settled, 0, 'all 100 getters were still pending while fs and crypto completed');
  t.comment(`8 readFile + 8 pbkdf2 with 100 pending gets: ${ms.toFixed(1)} ms`);
  await q.putMany(Array.from({ length: 100 }, (_, i) => i));
  await Promise.all(gets);
  t.same(
    got.sort((a, b) => a - b),
    Array.from({ length: 100 }, (_, i) => i),
    'each getter got one distinct message',
  );
  t.match(q.info(), { size: 0, consumersWaiting: 0 });
});

t.test('a process with a pending get() stays alive until a message comes, then exits on its own', async (t) => {
  const q = queueFor<string>(t, 'bp-alive');
  const child = new Child('queue-pending.js', [q.name]);
  t.teardown(() => child.kill());
  await child.message('waiting');
  await child.message('still-alive'); // an unref'd timer fired: the pending get held the loop open
  t.equal(q.info().consumersWaiting, 1, 'the child is still waiting');
  q.putSync('wake up');
  t.match(await child.message('got'), { value: 'wake up' });
  t.same(await child.exited, { code: 0, signal: null }, 'then exits on its own with code 0');
  t.equal(q.info().consumersWaiting, 0);
});
