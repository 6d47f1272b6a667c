// Fixtures and scenarios for the pool tests (test/65..69): ports of the seed's async/test/task.py
// fixtures and of test_pool.py's _assert_single_task / _assert_async_dependent_tasks.
//
// Task functions here are self-contained (no closures) so they run unchanged in worker threads
// and child processes (shipped as source text, like pcall targets). What the seed's fixtures
// counted inside the function (item_count) is counted here on the output writer, in the parent.
import type { Test } from 'tap';
import { ChannelTask, IteratorTask, PoolReader, type Pool, type TaskFn, type TaskOptions } from '../../dist';

type Writer = NonNullable<ReturnType<IteratorTask['writer']>>;

/** Counts process() calls and items written, whatever the pool's mode. */
function counting<T extends IteratorTask | ChannelTask>(task: T): T & { processCount: number; itemCount: number } {
  const counted = task as T & { processCount: number; itemCount: number };
  counted.processCount = 0;
  counted.itemCount = 0;
  const process = task.process.bind(task);
  task.process = (count?: number, apply?: Parameters<T['process']>[1], signal?: AbortSignal) => {
    counted.processCount += 1;
    return process(count, apply, signal); // the signal too: close() ends a chunk's wait for input
  };
  const setWriter = task.setWriter.bind(task);
  task.setWriter = (writer: Writer | undefined) => {
    if (writer === undefined) return setWriter(writer);
    const write = writer.write.bind(writer);
    const tryWrite = writer.tryWrite?.bind(writer);
    setWriter(
      Object.assign(Object.create(writer) as Writer, {
        write: (item: unknown) => {
          counted.itemCount += 1;
          return write(item);
        },
        tryWrite: (item: unknown) => {
          const ok = tryWrite === undefined ? false : tryWrite(item);
          if (ok) counted.itemCount += 1;
          return ok;
        },
        close: () => writer.close(),
        closed: () => writer.closed(),
      }),
    );
  };
  return counted;
}

export type FixtureTask = IteratorTask & { processCount: number; itemCount: number };

/** Identity, run wherever the pool runs task functions. */
export const identity: TaskFn = (item: unknown) => item;
/** Fails on the first item (the seed's should_fail). */
export const failing: TaskFn = () => {
  throw new RangeError('I am failing just for the fun of it');
};
/** Fails once the item value reaches 500 (the seed's fail_after = ni / 2 over 0..ni-1 in order). */
export const failAfterHalf: TaskFn = (item: unknown) => {
  if ((item as number) >= 500) throw new RangeError('Simulated failure after processing 500 items');
  return item;
};
/** The seed's transformer: (i) -> [i, 0]; [i, ...] -> [..., i * (length - 1)]. */
export const transform: TaskFn = (item: unknown) =>
  Array.isArray(item) ? [...item, item[0] * (item.length - 1)] : [item, 0];
/** The first transformer failing after 500 items (fail_setup [(0, ni / 2)]). */
export const transformFailAfterHalf: TaskFn = (item: unknown) => {
  if (!Array.isArray(item) && (item as number) >= 500) throw new RangeError('Simulated failure after 500 items');
  return Array.isArray(item) ? [...item, item[0] * (item.length - 1)] : [item, 0];
};
/** The seed's verifier: every element j >= 1 must be i * (j - 1) (the order of the chain). */
export const verify: TaskFn = (item: unknown) => {
  if (!Array.isArray(item)) throw new TypeError(`input was no tuple: ${String(item)}`);
  for (let j = 1; j < item.length; j += 1) {
    if (item[j] !== item[0] * (j - 1)) throw new Error(`${item[j]} != ${item[0] * (j - 1)}, orig = ${item.join()}`);
  }
  return item;
};

/** A task yielding 0..ni-1 through `fn`. */
export function makeIteratorTask(ni: number, fn: TaskFn | null = identity, options?: TaskOptions): FixtureTask {
  const range = Array.from({ length: ni }, (_, i) => i);
  return counting(new IteratorTask(range[Symbol.iterator](), 'iterator', fn, options));
}

export interface Chain {
  tasks: Array<FixtureTask | ChannelTask | undefined>;
  readers: PoolReader[];
}

/** The seed's add_task_chain: feeder -> count transformers -> verifier; see its docstring. */
export function addTaskChain(
  p: Pool,
  ni: number,
  count = 1,
  options: { failFirst?: boolean; feeder?: PoolReader; idOffset?: number } = {},
): Chain {
  let feeder: FixtureTask | undefined;
  let frc = options.feeder;
  if (frc === undefined) {
    feeder = makeIteratorTask(ni, null); // identity, on the pool's thread (the transformers go to workers)
    frc = p.addTask(feeder);
  }
  const tasks: Chain['tasks'] = [feeder];
  const readers: PoolReader[] = [frc];
  let inrc = frc;
  for (let tc = 0; tc < count; tc += 1) {
    const fn = tc === 0 && options.failFirst ? transformFailAfterHalf : transform;
    const t = counting(new ChannelTask(inrc, tc + (options.idOffset ?? 0), fn));
    inrc = p.addTask(t);
    tasks.push(t);
    readers.push(inrc);
  }
  const verifier = counting(new ChannelTask(inrc, 'verifier', verify));
  tasks.push(verifier);
  readers.push(p.addTask(verifier));
  return { tasks, readers };
}

export function closeAll(readers: PoolReader[]): void {
  for (const r of readers) r.close();
}

/**
 * read(1) `ni` times from `rc`: whether every read gave exactly one item, and whether the items
 * came as 0, 1, ..., ni - 1 (input order; only meaningful for a synchronous pool).
 */
async function readOneByOne(rc: PoolReader, ni: number): Promise<{ single: boolean; ordered: boolean }> {
  let single = true;
  let ordered = true;
  for (let i = 0; i < ni; i += 1) {
    const items = await rc.read(1);
    single &&= items.length === 1;
    ordered &&= items[0] === i;
  }
  return { single, ordered };
}

/** Port of test_pool.py _assert_single_task (`async`: workers, order not asserted). */
export async function assertSingleTask(t: Test, p: Pool, async: boolean): Promise<void> {
  const nullTasks = p.numTasks();
  const ni = 1000;
  let task = makeIteratorTask(ni);
  t.equal(p.numTasks(), nullTasks);
  let rc = p.addTask(task);
  t.equal(p.numTasks(), 1 + nullTasks, 'addTask adds a node');
  t.ok(rc instanceof PoolReader, 'addTask returns a PoolReader');
  t.ok(task.writer() !== undefined, 'the task got an output writer');

  let items = await rc.read();
  t.equal(items.length, ni, 'read() returns every item');
  t.equal(task.itemCount, ni);
  if (!async) t.ok(items[0] === 0 && items[ni - 1] === ni - 1, 'in input order');
  t.ok(task.isDone(), 'read() leaves the task done');
  rc.close();
  t.equal(p.numTasks(), nullTasks, 'closing the last reader removes the task');

  // pull individual items
  task = makeIteratorTask(ni);
  rc = p.addTask(task);
  let { single, ordered } = await readOneByOne(rc, ni);
  t.ok(single, 'read(1) x ni: one item each');
  if (!async) t.ok(ordered, 'read(1) x ni: in order');
  t.notOk(task.isDone(), 'exactly ni pulled: the task cannot know its input is depleted');
  t.equal(p.numTasks(), 1 + nullTasks);
  rc.close();
  t.equal(p.numTasks(), nullTasks, 'orphan handling on close()');

  // min count (given to the constructor: Decision 12)
  task = makeIteratorTask(ni, identity, { minCount: ni / 2 });
  t.equal(task.minCount, ni / 2, 'the constructor honours minCount');
  rc = p.addTask(task);
  items = await rc.read(1);
  t.ok(items.length === 1 && (async || items[0] === 0), 'minCount: first item');
  items = await rc.read(1);
  t.ok(items.length === 1 && (async || items[0] === 1), 'minCount: second item');
  items = await rc.read(ni - 2);
  t.equal(items.length, ni - 2, 'the rest');
  t.equal(p.removeTask(task), p, 'removeTask returns the pool');
  t.equal(p.numTasks(), nullTasks);
  t.equal(task.itemCount, ni, 'ni items computed');
  t.equal((await rc.read()).length, 0, 'a removed, done task still reads: nothing left');
  rc.close();

  // chunking: integer arithmetic, read(502) with min 500 / chunk 250 gives 502
  task = makeIteratorTask(ni, identity, { minCount: ni / 2, maxChunksize: ni / 4 });
  t.equal(task.maxChunksize, ni / 4, 'the constructor honours maxChunksize');
  rc = p.addTask(task);
  items = await rc.read(ni / 2 + 2);
  t.equal(items.length, ni / 2 + 2, 'read(502) with min 500 / chunk 250 returns 502 (the py3 seed lost the remainder)');
  items = await rc.read(ni / 2 - 2);
  t.equal(items.length, ni / 2 - 2, 'and the rest');
  t.equal(task.itemCount, ni);
  rc.close();
  t.ok(task.isDone(), 'closing the reader sets the task done');
  t.equal(p.numTasks(), nullTasks);

  // chunk size alone: read(1) processes one item per read
  task = makeIteratorTask(ni, identity, { maxChunksize: ni / 4 });
  rc = p.addTask(task);
  ({ single, ordered } = await readOneByOne(rc, ni));
  t.ok(single && (async || ordered), 'maxChunksize alone: read(1) x ni');
  t.equal(task.itemCount, ni);
  if (!async) t.equal(task.processCount, ni, 'one process(1) per read(1)');
  t.equal(p.numTasks(), 1 + nullTasks);
  t.equal(p.removeTask(task), p);
  t.equal(p.numTasks(), nullTasks);
  rc.close();

  // min count = chunk size: fewer process calls
  task = makeIteratorTask(ni, identity, { minCount: ni / 4, maxChunksize: ni / 4 });
  rc = p.addTask(task);
  ({ single, ordered } = await readOneByOne(rc, ni));
  t.ok(single && (async || ordered), 'minCount = maxChunksize: read(1) x ni');
  t.equal(task.itemCount, ni);
  rc.close();
  t.equal(p.numTasks(), nullTasks);

  // failure: processing stops, the task is done and keeps its error
  task = makeIteratorTask(ni, failing);
  rc = p.addTask(task);
  t.equal((await rc.read()).length, 0, 'failure on the first item: nothing');
  t.ok(task.error() instanceof RangeError, 'error() holds the exception');
  t.ok(task.isDone(), 'a failed task is done');
  rc.close();
  t.equal(p.numTasks(), nullTasks);

  // failure after ni / 2 items: exactly those come through, the channel is closed (no hang)
  task = makeIteratorTask(ni, failAfterHalf);
  rc = p.addTask(task);
  t.equal((await rc.read()).length, ni / 2, 'failure after N items returns exactly N');
  t.ok(task.isDone());
  t.ok(task.error() instanceof RangeError);
  t.ok(task.isClosed(), 'the failed task closed its output');
  rc.close();
}

/** Port of test_pool.py _assert_async_dependent_tasks (two pools chained included). */
export async function assertDependentTasks(
  t: Test,
  pool: Pool,
  p2: Pool,
  async: boolean,
  options: { light?: boolean } = {},
): Promise<void> {
  const nullTasks = pool.numTasks();
  const ni = 1000;
  const count = 3;
  const aic = count + 2;

  let { tasks, readers } = addTaskChain(pool, ni, count);
  t.equal(tasks.length, aic);
  t.equal(readers.length, aic);
  t.equal(pool.numTasks(), nullTasks + aic);
  let items = await readers[aic - 1].read();
  t.equal(items.length, ni, 'chain: read() returns every item, verified in order by the last task');
  t.equal(tasks[aic - 1]?.error(), undefined, 'the verifier found the chain order right');
  closeAll(readers);
  t.equal(pool.numTasks(), nullTasks, 'closing every reader removes the chain');

  // read(1)
  ({ tasks, readers } = addTaskChain(pool, ni, count));
  let single = true;
  for (let i = 0; i < ni; i += 1) single &&= (await readers[aic - 1].read(1)).length === 1;
  t.ok(single, 'chain: read(1) x ni');
  t.equal((await readers[aic - 1].read()).length, 0, 'then empty');
  t.equal(tasks[aic - 1]?.error(), undefined);
  closeAll(readers);

  // minCount on the last task raises the batch of the whole chain
  ({ tasks, readers } = addTaskChain(pool, ni, count));
  t.equal(pool.numTasks(), nullTasks + aic);
  (tasks[aic - 1] as ChannelTask).minCount = ni / 4;
  single = true;
  for (let i = 0; i < ni; i += 1) single &&= (await readers[aic - 1].read(1)).length === 1;
  t.ok(single, 'chain with minCount: read(1) x ni');
  t.equal((await readers[aic - 1].read()).length, 0);
  if (!async) {
    t.equal(
      (tasks[0] as FixtureTask).processCount,
      ni / (ni / 4) + 1,
      'the feeder ran ni / minCount steps (+ the one that found it empty)',
    );
  }
  closeAll(readers);

  // failure in the first transformer after ni / 2 items
  ({ tasks, readers } = addTaskChain(pool, ni, count, { failFirst: true }));
  items = await readers[aic - 1].read();
  t.equal(items.length, ni / 2, 'failure in the chain: exactly the items before it');
  t.ok(tasks[1]?.error() instanceof RangeError, 'the failing task keeps its error');
  t.equal(tasks[aic - 1]?.error(), undefined, 'downstream tasks just end');
  closeAll(readers);
  t.equal(pool.numTasks(), nullTasks);

  // MULTI-POOL: a chain of p2 fed by the last reader of a chain of pool
  readers = addTaskChain(pool, ni, count).readers;
  let p2chain = addTaskChain(p2, ni, count, { feeder: readers[aic - 1], idOffset: count });
  t.equal(p2chain.tasks[0], undefined, 'no feeder task');
  t.equal(readers[aic - 1].pool(), pool, 'the reader keeps its pool');
  t.equal(readers[aic - 1], (p2chain.tasks[1] as ChannelTask).reader());
  t.equal(p2.numTasks(), p2chain.tasks.length - 1);
  items = await p2chain.readers[p2chain.readers.length - 1].read();
  t.equal(items.length, ni, 'two chained pools: every item, order verified over both chains');
  t.equal((items[0] as unknown[]).length, 2 * count + 1, 'each item went through both chains');
  closeAll(p2chain.readers.slice(1));
  t.equal(p2.numTasks(), 0, "closing p2's readers removes its tasks");
  t.equal(pool.numTasks(), nullTasks + aic, "pool's tasks stay: their readers are open");
  closeAll(readers);
  t.equal(pool.numTasks(), nullTasks);

  // read(1) through pool while p2 is connected; then close in the other order
  readers = addTaskChain(pool, ni, count).readers;
  p2chain = addTaskChain(p2, ni, count, { feeder: readers[aic - 1], idOffset: count });
  t.equal(p2.numTasks(), p2chain.tasks.length - 1);
  if (options.light) {
    // Light mode (size 4 on a loaded 2-core CI machine): one read instead of ni reads of 1.
    t.equal((await readers[aic - 1].read(ni)).length, ni, 'read(ni) from the first pool while the second is connected');
  } else {
    single = true;
    for (let i = 0; i < ni; i += 1) single &&= (await readers[aic - 1].read(1)).length === 1;
    t.ok(single, 'read(1) x ni from the first pool while the second is connected');
  }
  t.equal((await readers[aic - 1].read()).length, 0, 'then empty');
  closeAll(readers);
  t.equal(pool.numTasks(), nullTasks + aic, "the first pool's last reader is still read by p2's task: nothing removed");
  closeAll(p2chain.readers.slice(1));
  t.equal(p2.numTasks(), 0);
  t.equal(pool.numTasks(), nullTasks, "p2's removal released the first pool's chain, input by input");
}
