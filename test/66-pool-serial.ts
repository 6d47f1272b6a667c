// Pool with size 0 (everything on the reading thread, in dependency order): the seed's
// test_pool.py test_base in sync mode, test_example.py, competing consumers, explicit disposal
// (Decision 13) in place of the seed's refcount assertions, and the FinalizationRegistry net.
import t from 'tap';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { ChannelTask, ChannelThreadTask, IteratorTask, IteratorThreadTask, Pool, ThreadPool } from '../dist';
import { assertDependentTasks, assertSingleTask, makeIteratorTask } from './helpers/pool';

t.test('test_base (sync mode): unrelated tasks, single task, readers, dependent chains, two pools', async (t) => {
  const p = new ThreadPool();
  t.equal(p.size(), 0, 'default pools have no workers');
  const t1 = new IteratorThreadTask([][Symbol.iterator](), 'nothing1', null);
  const t2 = new IteratorThreadTask([][Symbol.iterator](), 'nothing2', null);
  const urc1 = p.addTask(t1);
  const urc2 = p.addTask(t2);
  t.equal(p.numTasks(), 2);
  t.equal(urc1.poolRef().deref(), p);
  t.equal(urc1.taskRef().deref(), t1);
  t.equal(urc1.pool(), p);
  t.equal(urc1.task(), t1);

  await assertSingleTask(t, p, false);
  t.equal(p.numTasks(), 2, 'the unrelated tasks are still there');
  urc1.close();
  t.equal(p.numTasks(), 1, 'closing a reader removes its task');
  urc1.close();
  t.equal(p.numTasks(), 1, 'close() is idempotent');
  p.removeTask(t2);
  t.equal(p.numTasks(), 0);
  t.equal(p.removeTask(t2), p, 'removing twice is a no-op');

  const t3 = new ChannelThreadTask(urc2, 'channel', null);
  const urc3 = p.addTask(t3);
  t.equal(p.numTasks(), 1);
  urc3.close();
  t.equal(p.numTasks(), 0);
  await t.rejects(urc3.read(), { code: 'SHMSYNC_CLOSED' }, 'a closed reader cannot be read');

  await assertDependentTasks(t, p, new ThreadPool(0), false);
  await p.close();
});

t.test('test_example: usage and chaining', async (t) => {
  const p = new ThreadPool();
  const task = new IteratorThreadTask([...Array(10).keys()][Symbol.iterator](), 'power', (i: number) => i * i);
  const reader = p.addTask(task);
  let items = await reader.read();
  t.ok(items.length === 10 && items[0] === 0 && items[9] === 81);
  const t2 = new IteratorThreadTask([...Array(10).keys()][Symbol.iterator](), 'power', (i: number) => i * i);
  const tmult = new ChannelThreadTask(p.addTask(t2), 'mult', (i: number) => i * 2);
  items = await p.addTask(tmult).read();
  t.ok(items.length === 10 && items[0] === 0 && items[9] === 162);
  // closures are fine at size 0: the function runs right here
  const factor = 3;
  const t3 = new IteratorTask([1, 2, 3], 'closure', (i: number) => i * factor);
  t.same(await p.addTask(t3).read(), [3, 6, 9]);
  // applySingle: false gets the list and returns an iterable
  const t4 = new IteratorTask([1, 2, 3, 4], 'batch', (xs: number[]) => xs.map((x) => -x), { applySingle: false });
  t.same(await p.addTask(t4).read(), [-1, -2, -3, -4]);
  for await (const item of p.addTask(new IteratorTask(['a', 'b'], 'iter'))) t.ok(item === 'a' || item === 'b', 'for await');
  await p.close();
});

t.test('competing consumers: an intermediate reader takes items the downstream task never sees', async (t) => {
  const p = new Pool(0);
  const c = new IteratorTask((function* () {
    for (let i = 0; ; i += 1) yield i;
  })(), 'c');
  const rc = p.addTask(c);
  const d = new ChannelTask(rc, 'd', (i: number) => i * 2);
  const rd = p.addTask(d);
  t.same(await rd.read(3), [0, 2, 4]);
  t.same(await rc.read(2), [3, 4]);
  t.same(await rd.read(3), [10, 12, 14]);
  t.same(p.numTasks(), 2);
  rd.close();
  t.equal(p.numTasks(), 1, 'c stays: its reader is open');
  rc.close();
  t.equal(p.numTasks(), 0);
});

t.test('minCount of any task in the chain raises the whole batch; count 0 is never raised', async (t) => {
  const p = new Pool(0);
  const feed = makeIteratorTask(100);
  const rf = p.addTask(feed);
  const mid = new ChannelTask(rf, 'mid', (x: number) => x, { minCount: 10 });
  const rm = p.addTask(mid);
  const last = new ChannelTask(rm, 'last', (x: number) => x);
  const rl = p.addTask(last);
  t.same(await rl.read(1), [0]);
  t.equal(feed.itemCount, 10, 'the feeder produced minCount items for read(1)');
  t.same(await rl.read(2), [1, 2]);
  t.equal(feed.itemCount, 20, 'every read schedules a batch, even with 9 items buffered (seed: by design)');
  t.equal((await rl.read()).length, 97, 'read() (count 0) is never raised: everything left');
  t.equal(feed.itemCount, 100);
  t.ok(last.isDone() && last.isClosed());
  rl.close();
  t.equal(p.numTasks(), 2, 'mid and feed are still read by their open readers');
  rm.close();
  rf.close();
  t.equal(p.numTasks(), 0);
});

t.test('a reader dropped without close() is released by the FinalizationRegistry (safety net)', async (t) => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const p = new Pool(0);
  (() => {
    const rf = p.addTask(makeIteratorTask(10));
    p.addTask(new ChannelTask(rf, 'dropped', (x: number) => x));
  })();
  t.equal(p.numTasks(), 2);
  // Bounded: each round collects and yields to the finalizer's task.
  for (let round = 0; round < 50 && p.numTasks() > 0; round += 1) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  t.equal(p.numTasks(), 0, 'both the dropped chain end and its orphaned input were removed');
});
