// Adversarial review of the pool (issue 11): hostile task functions and values, careless
// close()/setSize()/read() use, abrupt worker deaths. Each case failed (or hung) before its fix;
// hangs are bounded by `settles()` so a regression fails instead of stalling the suite.
import t from 'tap';
import * as path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  AsyncQueue,
  ChannelTask,
  ChildProcessException,
  DummyLock,
  IteratorTask,
  Pool,
  ShmQueue,
  ThreadPool,
  WorkerThread,
} from '../dist';
import { settles } from './helpers/settles';

delete process.env.NODE_OPTIONS; // tap's loader hooks would slow every worker's start
const fns = path.join(__dirname, 'fixtures', 'pool-fns.js');

function codeOf(outcome: readonly unknown[]): unknown {
  return outcome[0] === 'rejected' ? (outcome[1] as { code?: unknown }).code : outcome[0];
}

t.test('a function throwing undefined or null: the task failure is visible in error()', async (t) => {
  for (const size of [0, 1]) {
    const p = new ThreadPool(size);
    for (const thrown of ['undefined', 'null']) {
      const task = new IteratorTask(
        [1, 2, 3],
        `throws-${thrown}`,
        new Function('x', `if (x === 2) throw ${thrown}; return x;`) as (x: number) => number,
      );
      t.same(await p.addTask(task).read(), [1], `size ${size}, throw ${thrown}: the item before it`);
      const err = task.error() as Error & { thrown: unknown };
      t.ok(err instanceof Error, `size ${size}, throw ${thrown}: error() is an Error, not "no failure"`);
      t.match(err.message, `threw ${thrown}`);
      t.equal(err.thrown, thrown === 'null' ? null : undefined, 'the thrown value is kept');
      t.ok(task.isDone() && task.isClosed());
    }
    const str = new IteratorTask([1], 'throws-string', () => {
      throw 'just a string';
    });
    t.same(await p.addTask(str).read(), []);
    t.equal(str.error(), 'just a string', `size ${size}: a thrown string is kept as it is`);
    await p.close();
  }
});

t.test('an error whose getters throw, in a worker: the items before it still come through', async (t) => {
  const p = new ThreadPool(1);
  const task = new IteratorTask([1, 2, 3, 4], 'hostile-error', (x: number) => {
    if (x < 3) return x;
    const e = new Error('hidden');
    Object.defineProperty(e, 'message', {
      get() {
        throw new Error('getter message');
      },
    });
    throw e;
  });
  t.same(await p.addTask(task).read(), [1, 2], 'failure after 2 items returns exactly 2');
  t.ok(task.error() instanceof Error, 'the failure is reported');
  t.notOk(task.error() instanceof ChildProcessException, 'as the task failure, not as a broken call');
  await p.close();
});

t.test('size 0: a function whose promise never settles cannot hold a read or close() for ever', async (t) => {
  const p = new ThreadPool(0);
  const task = new IteratorTask([1, 2, 3], 'never', () => new Promise<never>(() => undefined));
  const r = p.addTask(task);
  const ac = new AbortController();
  const aborted = r.read(1, { signal: ac.signal });
  ac.abort();
  const a = await settles(aborted);
  t.equal(a[0], 'rejected', 'a read with a signal rejects when it is aborted');
  t.equal((a[1] as Error).name, 'AbortError');
  t.same(await settles(r.read(1, { timeout: 50 })), ['ok', []], 'a read with a timeout returns what there is');
  const pending = r.read(1);
  await p.close();
  t.same(await settles(pending), ['ok', []], 'close() wakes a read waiting for work done here');
  t.ok(task.isClosed());
});

t.test('hostile minCount / maxChunksize / read counts: coded errors, no giant arrays', async (t) => {
  const task = new IteratorTask([1, 2, 3], 'fields', null);
  for (const [key, value] of [
    ['minCount', NaN],
    ['minCount', Infinity],
    ['minCount', -5],
    ['minCount', 2.5],
    ['minCount', 2 ** 53],
    ['maxChunksize', 0.5],
    ['maxChunksize', NaN],
    ['maxChunksize', -1],
    ['maxChunksize', '3'],
  ] as const) {
    t.throws(
      () => ((task as unknown as Record<string, unknown>)[key] = value),
      typeof value === 'string' ? TypeError : { code: 'SHMSYNC_OUT_OF_RANGE' },
      `${key} = ${String(value)} throws`,
    );
  }
  task.minCount = 0;
  t.equal(task.minCount, null, 'minCount 0 means none, as in the constructor');
  t.throws(() => new IteratorTask([1], 'x', null, { minCount: Infinity }), { code: 'SHMSYNC_OUT_OF_RANGE' });
  for (const size of [0, 2]) {
    const p = new ThreadPool(size);
    // The largest legal values: one job, not an array of 2^53 chunks (RangeError before).
    const huge = new IteratorTask([1, 2, 3], `huge-${size}`, (x: number) => x * 2, {
      minCount: Number.MAX_SAFE_INTEGER,
      maxChunksize: 1,
    });
    const r = p.addTask(huge);
    const got = await settles(r.read(1));
    t.equal(got[0], 'ok', `size ${size}: read(1) with minCount 2^53 - 1 and chunks of 1 works`);
    const all = [...((got[1] as number[]) ?? []), ...(await r.read())];
    t.same(all.sort(), [2, 4, 6], 'every item once');
    // read(count) is validated before any work is scheduled: a bad read does not fail the task.
    const calm = new IteratorTask([1, 2], `calm-${size}`, (x: number) => x);
    const rc = p.addTask(calm);
    for (const count of [-1, 1.5, NaN, Infinity, 2 ** 53]) {
      t.equal(codeOf(await settles(rc.read(count))), 'SHMSYNC_OUT_OF_RANGE', `size ${size}: read(${count})`);
    }
    t.equal(calm.error(), undefined, 'the bad reads did not touch the task');
    t.same(await rc.read(), [1, 2]);
    await p.close();
  }
});

t.test('setSize shrinking stops exactly the surplus workers; no item lost while chunks run', async (t) => {
  const p = new ThreadPool(2);
  const before = p.workerIds();
  t.equal(before.length, 2);
  p.setSize(1);
  t.same(p.workerIds(), [before[0]], 'the first worker stays');
  const tid = new IteratorTask([1], 'tid', () => require('node:worker_threads').threadId);
  t.same(await p.addTask(tid).read(), p.workerIds(), 'work runs in the worker workerIds() reports');
  // Shrink and grow while 1 000 items in chunks of 10 are being processed.
  p.setSize(4);
  const feed = p.addTask(new IteratorTask([...Array(1000).keys()], 'feed', null, { maxChunksize: 10 }));
  const plus = p.addTask(new ChannelTask(feed, 'plus', (x: number) => x + 1, { maxChunksize: 10 }));
  const reading = plus.read(1000);
  p.setSize(1);
  const items = (await settles(reading, 10000))[1] as number[];
  t.equal(items.length, 1000, 'every item after shrinking 4 -> 1 mid-read');
  t.same(
    [...items].sort((a, b) => a - b),
    [...Array(1000).keys()].map((x) => x + 1),
  );
  const feed0 = p.addTask(new IteratorTask([...Array(100).keys()], 'feed0', null, { maxChunksize: 10 }));
  const reading0 = feed0.read(100);
  p.setSize(0);
  t.same(((await settles(reading0))[1] as number[]).length, 100, 'shrinking to 0 mid-read: the rest runs here');
  await p.close();
  t.same(p.workerIds(), []);
});

t.test(
  'a worker thread ended with worker.terminate() mid-chunk: the reader gets an error, the pool goes on',
  async (t) => {
    // Test hook: Pool._killWorkerChild(i) signals worker i's child as an outsider would
    // (worker.terminate() for a thread, SIGKILL for a process), through pcall's child runner.
    const p = new ThreadPool(1);
    const q = new ShmQueue<string>(undefined, { capacity: 4096 });
    t.teardown(() => {
      q.close();
      ShmQueue.unlink(q.name);
    });
    const task = new IteratorTask([q], 'blocker', { module: fns, export: 'blockUntilKilled' });
    const reading = p.addTask(task).read();
    t.equal(await q.get(), 'started', 'the worker thread is inside the task function');
    p._killWorkerChild(0);
    t.same(await settles(reading), ['ok', []], 'the reader wakes with nothing');
    const err = task.error() as ChildProcessException;
    t.ok(err instanceof ChildProcessException, 'error(): ChildProcessException');
    t.equal(err.signal, 'SIGKILL', 'reported as the terminate() it was');
    const next = new IteratorTask([1, 2], 'next', (x: number) => x * 3);
    t.same(await p.addTask(next).read(), [3, 6], 'a fresh worker thread runs the next task');
    await p.close();
  },
);

t.test('destroy(): a chunk blocked for ever does not keep the pool open', async (t) => {
  for (const mode of ['thread', 'process'] as const) {
    const p = new Pool(1, { mode });
    const q = new ShmQueue<string>(undefined, { capacity: 4096 });
    t.teardown(() => {
      q.close();
      ShmQueue.unlink(q.name);
    });
    const task = new IteratorTask([q], 'blocker', { module: fns, export: 'blockUntilKilled' });
    const r = p.addTask(task);
    const ac = new AbortController();
    const reading = r.read(1, { signal: ac.signal });
    t.equal(await q.get(), 'started');
    ac.abort();
    t.equal(((await settles(reading))[1] as Error).name, 'AbortError', `${mode}: the reader can give up`);
    const closing = p.close(); // waits for the chunk: it would wait for ever
    const ids = p.workerIds();
    t.same(await settles(p.destroy()), ['ok', undefined], `${mode}: destroy() ends it`);
    t.same(await settles(closing), ['ok', undefined], 'and the pending close() with it');
    t.ok(task.error() instanceof ChildProcessException, 'the chunk failed as killed');
    t.same(await settles(r.read()), ['ok', []], 'a read after that returns, never hangs');
    t.same(p.workerIds(), []);
    t.equal(ids.length, 0, 'close() had already stopped the workers (ids empty)');
  }
});

t.test('careless close(): twice, with setSize, reads after it, two pools closed in either order', async (t) => {
  const p = new ThreadPool(1);
  const r = p.addTask(new IteratorTask([1, 2, 3], 'a', (x: number) => x));
  const c1 = p.close();
  const c2 = p.close();
  t.equal(c1, c2, 'close() twice: one promise');
  t.throws(() => p.setSize(2), { code: 'SHMSYNC_CLOSED' });
  t.doesNotThrow(() => p.setSize(0), 'setSize(0) on a closed pool is harmless');
  await c1;
  t.same(await settles(r.read()), ['ok', []], 'a reader of a closed pool reads what was produced');
  t.throws(() => p.addTask(new IteratorTask([1], 'late')), { code: 'SHMSYNC_CLOSED' });

  for (const order of ['upstream first', 'downstream first']) {
    const up = new ThreadPool(1);
    const down = new ThreadPool(1);
    const ru = up.addTask(new IteratorTask([...Array(100).keys()], 'up', (x: number) => x + 1, { maxChunksize: 10 }));
    const rd = down.addTask(new ChannelTask(ru, 'down', (x: number) => x * 2, { maxChunksize: 10 }));
    t.equal((await rd.read(10)).length, 10);
    const pending = rd.read(50);
    if (order === 'upstream first') {
      await up.close();
      const got = await settles(pending);
      t.equal(got[0], 'ok', `${order}: the downstream read ends`);
      await down.close();
    } else {
      await down.close();
      t.equal((await settles(pending))[0], 'ok', `${order}: the downstream read ends`);
      await up.close();
    }
    t.equal((await settles(rd.read()))[0], 'ok', `${order}: a read after both closed returns`);
  }
});

t.test('seed shims: Pool.LockCls, TaskQueueCls, WorkerCls', async (t) => {
  t.equal(Pool.LockCls, DummyLock);
  t.equal(ThreadPool.LockCls, DummyLock);
  t.equal(Pool.TaskQueueCls, AsyncQueue);
  t.equal(Pool.WorkerCls, WorkerThread);
  const lock = new ThreadPool.LockCls();
  t.equal(typeof lock.acquire, 'function', 'a usable lock');
});

t.test("pcall's handle scan fast path (every chunk's items and results): same answers, cycle-safe", async (t) => {
  const { encodeHandles } = require('../dist/pcall/handle-codec') as {
    encodeHandles: (v: unknown) => { value: unknown; handles: unknown[] };
  };
  const q = new ShmQueue<string>(undefined, { capacity: 4096 });
  t.teardown(() => {
    q.close();
    ShmQueue.unlink(q.name);
  });
  const plain = [1, 'a', { value: 1, pid: 2 }, [3, [4]], new Map([[1, { x: 1 }]]), new Set([{ y: 2 }])];
  t.equal(encodeHandles(plain).handles.length, 0, 'plain data: no handle');
  const selfArr: unknown[] = [1];
  selfArr.push(selfArr);
  const a: Record<string, unknown> = { n: 1 };
  const b: Record<string, unknown> = { a };
  a.b = b;
  t.equal(encodeHandles([selfArr, a]).handles.length, 0, 'cycles (array, object pair) end');
  // A diamond DAG 60 levels deep: without `seen` on inner nodes this is 2^60 visits.
  let node: Record<string, unknown> = { leaf: 1 };
  for (let i = 0; i < 60; i += 1) node = { l: node, r: node };
  t.equal(encodeHandles(node).handles.length, 0, 'a shared DAG is walked once per node');
  a.deep = { list: [1, 2, { q }] };
  t.equal(encodeHandles([selfArr, a]).handles.length, 1, 'a handle behind a cycle is found');
  t.equal(encodeHandles(new Map([['k', [q]]])).handles.length, 1, 'in a Map');
  t.equal(encodeHandles([1, 2, q]).handles.length, 1, 'at the top of an array of primitives');
});

t.test('a reader dropped while its read waits is not finalized under the read', async (t) => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const p = new ThreadPool(1);
  const ready = new ShmQueue<string>(undefined, { capacity: 4096 });
  const go = new ShmQueue<string>(undefined, { capacity: 4096 });
  t.teardown(() => {
    for (const q of [ready, go]) {
      q.close();
      ShmQueue.unlink(q.name);
    }
  });
  const task = new IteratorTask([{ ready, go }], 'slow', { module: fns, export: 'waitForGo' });
  // The reader is not kept anywhere: only the pending read refers to it.
  const result = p.addTask(task).read();
  t.equal(await ready.get(), 'started', 'the chunk runs in the worker');
  // Collect, then wait for a canary registered now to be finalized: the pool reader's finalizer
  // (if the reader was collectable) has had its turn by then.
  let canaryDone!: () => void;
  const canarySeen = new Promise<void>((resolve) => (canaryDone = resolve));
  const canary = new FinalizationRegistry<number>(() => canaryDone());
  canary.register({}, 1);
  for (let i = 0; i < 5; i += 1) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  await settles(canarySeen);
  go.putSync('go');
  t.same(await settles(result), ['ok', ['done']], 'the read completes (before: ClosedError "closed while reading")');
  await p.destroy();
});
