// Pool with worker threads, sizes 1 and 2: the seed's async-mode _assert_single_task (1 000 items,
// every task function in a worker thread; counts asserted, order where one step makes it
// deterministic) and its dependent chains with two chained pools (at size 2 the second pool has a
// worker of its own; light mode, see test/68). Size 4: test/68. setSize, workerIds,
// close(), growing after tasks were added, close() with a chunk waiting for input.
import t from 'tap';
import { CallbackChannelReader, ChannelTask, IteratorTask, mkchannel, ThreadPool } from '../dist';
import { assertDependentTasks, assertSingleTask } from './helpers/pool';

delete process.env.NODE_OPTIONS; // tap's loader hooks would slow every worker's start

t.test('sizes 1 and 2: single task, dependent chain, two pools', async (t) => {
  const p = new ThreadPool(1);
  t.equal(p.size(), 1);
  t.equal(p.mode, 'thread');
  t.equal(p.workerIds().length, 1, 'one worker thread');
  await t.test('size 1: single task', (t) => assertSingleTask(t, p, true));
  await t.test('size 1: dependent tasks, two pools (light)', (t) =>
    assertDependentTasks(t, p, new ThreadPool(0), true, { light: true }),
  );
  p.setSize(2);
  t.equal(p.size(), 2, 'growing');
  t.equal(p.workerIds().length, 2);
  await t.test('size 2: single task', (t) => assertSingleTask(t, p, true));
  await t.test('size 2: dependent tasks, two pools (the second with a worker too)', async (t) => {
    const p2 = new ThreadPool(1);
    await assertDependentTasks(t, p, p2, true, { light: true });
    await p2.close();
  });
  p.setSize(1);
  t.equal(p.size(), 1, 'shrinking');
  await p.close();
  t.equal(p.size(), 0, 'close() stops every worker');
  t.equal(p.workerIds().length, 0);
});

t.test('a chunk is one call in one worker; size 0 after workers runs here', async (t) => {
  const p = new ThreadPool(2);
  const task = new IteratorTask([1, 2, 3], 'tid', () => require('node:worker_threads').threadId);
  const ids = await p.addTask(task).read();
  t.equal(ids.length, 3);
  t.ok(
    ids.every((id) => id !== 0 && id === ids[0]),
    'all three items ran in one worker thread (one chunk, one call)',
  );
  p.setSize(0);
  const local = new IteratorTask([1, 2, 3], 'tid0', () => require('node:worker_threads').threadId);
  t.same(await p.addTask(local).read(), [0, 0, 0], 'size 0 runs on this thread');
  await p.close();
});

t.test('tasks added at size 0, read after the pool grew: the workers are waited for', async (t) => {
  const p = new ThreadPool(0);
  const feed = p.addTask(new IteratorTask([...Array(1000).keys()], 'feed', null, { maxChunksize: 100 }));
  const mid = p.addTask(new ChannelTask(feed, 'mid', (x: number) => x + 1, { maxChunksize: 100 }));
  const last = p.addTask(new ChannelTask(mid, 'last', (x: number) => x * 2, { maxChunksize: 100 }));
  p.setSize(2);
  const items = (await last.read(1000)) as number[];
  t.equal(items.length, 1000, 'every item, though chunks of three tasks ran on two workers at once');
  t.same(
    items.sort((a, b) => a - b),
    [...Array(1000).keys()].map((x) => (x + 1) * 2),
  );
  t.same(await last.read(), [], 'then the chain ends');
  await p.close();
});

t.test(
  'close() never hangs: a chunk waiting for input nobody writes, and the reader waiting on it, wake',
  async (t) => {
    const p = new ThreadPool(1);
    const [w, r] = mkchannel({ rtype: CallbackChannelReader });
    t.teardown(() => w.close());
    let inside!: () => void;
    const waiting = new Promise<void>((resolve) => (inside = resolve));
    r.setPreCb(() => inside());
    const task = new ChannelTask(r, 'starved', (x: number) => x);
    const rd = p.addTask(task);
    const reading = rd.read(1);
    await waiting; // the worker's chunk is now waiting for input
    await p.close();
    t.same(await reading, [], 'the reader wakes with nothing');
    t.ok(task.isDone() && task.isClosed());
    t.ok(task.error() !== undefined, 'the interrupted wait is reported in error()');
    t.same(p.workerIds(), []);
  },
);
