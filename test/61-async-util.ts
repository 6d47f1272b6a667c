import t from 'tap';
import * as os from 'node:os';
import { AsyncQueue, SyncQueue, HSCondition, DummyLock, cpuCount, ReadOnly, TimeoutError, AbortError } from '../dist';

// The async seed's util module (SEMANTICS §2.2), with its documented fixes: a bounded maxsize
// gives backpressure, SyncQueue's writable flag works, waits are timers and AbortSignals.

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

t.test('AsyncQueue: FIFO, qsize/empty/writable, setWritable returns the previous state', async (t) => {
  const q = new AsyncQueue<number>();
  t.equal(q.maxsize, 0);
  t.ok(q.empty());
  for (let i = 0; i < 5; i++) await q.put(i);
  t.equal(q.qsize(), 5);
  t.notOk(q.full(), 'unbounded is never full');
  t.equal(await q.get(), 0);
  t.equal(q.tryGet(), 1);
  t.equal(q.writable(), true);
  t.equal(q.setWritable(false), true, 'previous state');
  t.equal(q.setWritable(false), false);
  await t.rejects(q.put(9), ReadOnly, 'put on a closed queue: ReadOnly (seed behaviour)');
  t.throws(() => q.tryPut(9), ReadOnly);
  t.equal(await q.get(), 2, 'items stay readable after close');
  t.equal(q.tryGet(), 3);
  t.equal(await q.get({ block: false }), 4);
  await t.rejects(q.get(), ReadOnly, 'closed and empty: ReadOnly (the seed raised Empty)');
  t.throws(() => q.tryGet(), ReadOnly);
  t.equal(q.setWritable(true), false, 'reopening works');
  await q.put(10);
  t.equal(await q.get(), 10);
  t.throws(() => new AsyncQueue(-1), { code: 'SHMSYNC_OUT_OF_RANGE' });
  t.throws(() => new AsyncQueue(1.5), { code: 'SHMSYNC_OUT_OF_RANGE' });
});

t.test('AsyncQueue: getters wait FIFO; setWritable(false) wakes every one of them', async (t) => {
  const q = new AsyncQueue<string>();
  const order: string[] = [];
  const a = q.get().then((v) => order.push(`a:${v}`));
  const b = q.get().then((v) => order.push(`b:${v}`));
  t.equal(q.getWaiters, 2);
  await q.put('x');
  await q.put('y');
  await Promise.all([a, b]);
  t.same(order, ['a:x', 'b:y'], 'the oldest getter gets the first item');
  const c = q.get();
  const d = q.get({ timeout: 60_000 });
  q.setWritable(false);
  await t.rejects(c, ReadOnly);
  await t.rejects(d, ReadOnly);
  t.equal(q.getWaiters, 0);
});

t.test('AsyncQueue: bounded maxsize is honoured (the seed ignored it): put waits, FIFO', async (t) => {
  const q = new AsyncQueue<number>(2);
  await q.put(1);
  await q.put(2);
  t.ok(q.full());
  t.equal(q.tryPut(3), false, 'tryPut on a full queue: false');
  const done: number[] = [];
  const p3 = q.put(3).then(() => done.push(3));
  const p4 = q.put(4).then(() => done.push(4));
  await tick();
  t.same(done, [], 'puts wait while full');
  t.equal(q.qsize(), 2, 'never more than maxsize');
  t.equal(await q.get(), 1);
  await p3;
  t.same(done, [3]);
  t.equal(q.qsize(), 2);
  t.equal(await q.get(), 2);
  await p4;
  t.same([await q.get(), await q.get()], [3, 4], 'FIFO kept across waiting puts');
  // Close wakes waiting putters with ReadOnly.
  await q.put(5);
  await q.put(6);
  const blocked = q.put(7);
  q.setWritable(false);
  await t.rejects(blocked, ReadOnly);
  t.equal(q.putWaiters, 0);
});

t.test('AsyncQueue: timeouts and aborts on get and put (lower bounds only)', async (t) => {
  const q = new AsyncQueue<number>(1);
  let start = Date.now();
  await t.rejects(q.get({ timeout: 50 }), TimeoutError);
  t.ok(Date.now() - start >= 49);
  await t.rejects(q.get({ block: false }), { code: 'SHMSYNC_TIMEOUT' });
  await q.put(1);
  start = Date.now();
  await t.rejects(q.put(2, { timeout: 50 }), TimeoutError);
  t.ok(Date.now() - start >= 49);
  await t.rejects(q.put(2, { block: false }), TimeoutError);
  const ac = new AbortController();
  const p = q.put(2, { signal: ac.signal });
  ac.abort('stop');
  const err = await p.catch((e: unknown) => e);
  t.ok(err instanceof AbortError);
  t.equal((err as Error & { cause: unknown }).cause, 'stop', 'the signal reason is the cause');
  t.equal(q.putWaiters, 0, 'the aborted putter left the list');
  t.equal(await q.get(), 1);
  const ac2 = new AbortController();
  const g = q.get({ signal: ac2.signal });
  ac2.abort();
  await t.rejects(g, AbortError);
  t.equal(q.getWaiters, 0);
  await q.put(3);
  t.equal(q.tryGet(), 3, 'an aborted getter did not swallow the next item');
  const pre = new AbortController();
  pre.abort();
  await t.rejects(q.get({ signal: pre.signal }), AbortError, 'already aborted: rejects at once');
  await t.rejects(q.get({ timeout: -1 }), { code: 'SHMSYNC_OUT_OF_RANGE' });
  await t.rejects(q.put(1, { timeout: NaN }), { code: 'SHMSYNC_OUT_OF_RANGE' });
});

t.test('SyncQueue: never waits; its writable flag works (the seed made it a no-op)', async (t) => {
  const q = new SyncQueue<number>();
  t.equal(q.get(), undefined, 'empty: undefined, no wait');
  q.put(1);
  t.equal(q.tryPut(2), true);
  t.equal(q.qsize(), 2);
  t.equal(q.setWritable(false), true);
  t.equal(q.writable(), false, 'writable() reports false (the seed: always true)');
  t.throws(() => q.put(3), ReadOnly);
  t.equal(q.get(), 1);
  t.equal(q.tryGet(), 2);
  t.throws(() => q.get(), ReadOnly, 'closed and empty');
  t.ok(q.empty());
});

t.test('HSCondition: FIFO notify(n), notifyAll, timed waits resolve false', async (t) => {
  const c = new HSCondition();
  t.ok(c.lock instanceof DummyLock);
  const woke: number[] = [];
  const waits = [0, 1, 2, 3].map((i) => c.wait().then((v) => woke.push(v ? i : -1)));
  t.equal(c.waiting, 4);
  t.equal(c.notify(), 1);
  await tick();
  t.same(woke, [0], 'notify() wakes the oldest waiter');
  t.equal(c.notify(2), 2);
  await tick();
  t.same(woke, [0, 1, 2], 'notify(2) wakes the next two, in order');
  t.equal(c.notifyAll(), 1);
  await Promise.all(waits);
  t.same(woke, [0, 1, 2, 3]);
  t.equal(c.notify(), 0, 'nobody waits');
  const start = Date.now();
  t.equal(await c.wait(40), false, 'a timed wait that nobody notifies resolves false');
  t.ok(Date.now() - start >= 39);
  t.equal(c.waiting, 0, 'the timed-out waiter left');
  const quick = c.wait(60_000);
  c.notify();
  t.equal(await quick, true);
  const ac = new AbortController();
  const aborted = c.wait(undefined, { signal: ac.signal });
  ac.abort();
  await t.rejects(aborted, AbortError);
  t.throws(() => c.notify(-1), { code: 'SHMSYNC_OUT_OF_RANGE' });
  await t.rejects(c.wait(-5), { code: 'SHMSYNC_OUT_OF_RANGE' });
  // The seed's lock shape: acquire/release delegate to the lock given.
  const calls: string[] = [];
  const c2 = new HSCondition({ acquire: () => calls.push('acquire'), release: () => void calls.push('release') });
  c2.acquire();
  c2.release();
  t.same(calls, ['acquire', 'release']);
});

t.test('DummyLock and cpuCount', async (t) => {
  const l = new DummyLock();
  t.equal(l.acquire(), true);
  l.release();
  {
    using held = new DummyLock();
    void held;
  }
  t.equal(cpuCount(), os.availableParallelism());
  t.ok(cpuCount() >= 1);
});
