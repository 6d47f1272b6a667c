// Pool with worker threads, sizes 1 and 2: the seed's async-mode _assert_single_task (1 000 items,
// every task function in a worker thread; counts asserted, order where one step makes it
// deterministic) and, at size 2, its dependent chains with two chained pools (the second pool
// with a worker of its own). Size 4: test/68. setSize, workerIds, close().
import t from 'tap';
import { IteratorTask, ThreadPool } from '../dist';
import { assertDependentTasks, assertSingleTask } from './helpers/pool';

delete process.env.NODE_OPTIONS; // tap's loader hooks would slow every worker's start

t.test('size 1: single task; size 2: single task, dependent chain, two pools', async (t) => {
  const p = new ThreadPool(1);
  t.equal(p.size(), 1);
  t.equal(p.mode, 'thread');
  t.equal(p.workerIds().length, 1, 'one worker thread');
  await t.test('size 1: single task', (t) => assertSingleTask(t, p, true));
  p.setSize(2);
  t.equal(p.size(), 2, 'growing');
  t.equal(p.workerIds().length, 2);
  await t.test('size 2: single task', (t) => assertSingleTask(t, p, true));
  await t.test('size 2: dependent tasks, two pools (the second with a worker too)', async (t) => {
    const p2 = new ThreadPool(1);
    await assertDependentTasks(t, p, p2, true);
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
  t.ok(ids.every((id) => id !== 0 && id === ids[0]), 'all three items ran in one worker thread (one chunk, one call)');
  p.setSize(0);
  const local = new IteratorTask([1, 2, 3], 'tid0', () => require('node:worker_threads').threadId);
  t.same(await p.addTask(local).read(), [0, 0, 0], 'size 0 runs on this thread');
  await p.close();
});
