/**
 * Pool / ThreadPool (seed `async.pool`, SEMANTICS.md §2.6): tasks in a dependency graph,
 * evaluated lazily when their output is read.
 *
 * Every `PoolReader.read(count)` of a task that is not done walks the task's inputs
 * (`inputInclusiveDfirstReversed`, cached per task until the graph changes), raises `count` to
 * the largest `minCount` of the chain (never a `count` of 0), splits it per task into chunks of
 * `maxChunksize` plus one chunk of the remainder (integer arithmetic: read(502) with min 500 /
 * chunk 250 is 250 + 250 + 2), and then
 * - size 0: calls `task.process(chunk)` itself, task by task in chain order, on the reading
 *   thread (results in input order);
 * - size > 0: queues `(task, chunk)` for the workers and returns; the read then waits on the
 *   channel. A worker takes a job, reads the task's input here (waiting for it as the seed's
 *   worker threads did), runs the task function on its own pcall child - a worker thread, or a
 *   child process with `mode: 'process'` - for the whole chunk in one call, and writes the results.
 *
 * A task of this pool whose input is a reader of this pool gets a graph edge from its input task
 * and reads the input channel directly (the pool orders the work); a reader of another pool is
 * read through that pool (pools chain).
 *
 * Runs on one thread (the one that created the pool); not thread-safe, like the seed.
 */
import { availableParallelism } from 'node:os';
import { ClosedError, TaskRegisteredError } from '../errors';
import { validateInteger, validateOneOf, optionsObject, rejectUnknownOptions } from '../validate';
import type { PcallMode } from '../pcall/options';
import { AsyncQueue, DummyLock } from '../async-util';
import { WorkerThread } from '../thread';
import { Graph } from './graph';
import { JobQueue } from './job-queue';
import { PoolReader, type PoolCore } from './pool-reader';
import { RemoteWorker } from './remote';
import { ChannelTask, type Task } from './task';
import { newChannel, readerFor, type ItemReader, type ReadOptions } from './channel-port';

/** Options of a {@link Pool}. */
export interface PoolOptions {
  /** Where task functions run when size > 0: `'thread'` (default, worker threads) or `'process'`. */
  mode?: PcallMode;
  /** Environment of worker processes / threads (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Node flags of the workers (default `[]`). */
  execArgv?: readonly string[];
}

/**
 * A job for the workers: `n` chunks of `size` items of `task`, then one chunk of `rest` if
 * `rest > 0`. A worker takes one chunk (`n: 1, rest: 0`); the rest of the job stays at the head
 * of the queue (job-queue.ts), so a read of 2^53 - 1 items with `maxChunksize: 1` is one job, not
 * an array of 2^53 chunks, and the chunks left of a task that is done are dropped.
 */
interface Job {
  readonly task: Task;
  readonly size: number;
  readonly n: number;
  readonly rest: number;
}
const kStop = Symbol('stop');

/** One worker: its child and the loop taking jobs for it. */
interface WorkerSlot {
  readonly remote: RemoteWorker;
  done: Promise<void>;
  /** Told to stop: the loop ends after its current job (this worker's own flag). */
  stopped: boolean;
  /** Ends the loop's wait for a job, while it waits. */
  wake: ((value: Job | typeof kStop) => void) | undefined;
}

/** The pool of each task that is not a ChannelTask (a ChannelTask keeps its own, `pool()`). */
const owners = new WeakMap<Task, WeakRef<object>>();

/** The job of one task for a step of `actual` items (integer chunking, Decision 12). */
function jobOf(task: Task, actual: number): Job {
  const max = task.maxChunksize;
  if (max > 0 && actual > max) {
    const n = Math.floor(actual / max);
    return { task, size: max, n, rest: actual - n * max };
  }
  return { task, size: actual, n: 1, rest: 0 };
}

/** The first chunk of `job` and the job left after it (undefined: none). */
function splitJob(job: Job): [number, Job | undefined] {
  if (job.n > 1) return [job.size, { ...job, n: job.n - 1 }];
  if (job.n === 1) return [job.size, job.rest > 0 ? { ...job, n: 0 } : undefined];
  return [job.rest, undefined];
}

/** Queue split: one chunk of a job, and the job left (nothing left of a task that is done). */
function takeChunk(job: Job | typeof kStop): [Job | typeof kStop, Job | typeof kStop | undefined] {
  if (job === kStop) return [job, undefined];
  const [count, rest] = splitJob(job);
  const piece: Job = { task: job.task, size: count, n: 1, rest: 0 };
  return [piece, rest !== undefined && !rest.task.isDone() ? rest : undefined];
}

/** The chunk sizes of one task for a step of `actual` items (integer chunking; for tests). */
export function chunksOf(actual: number, maxChunksize: number): number[] {
  const out: number[] = [];
  let job: Job | undefined = jobOf({ maxChunksize } as Task, actual);
  while (job !== undefined) {
    const [count, rest]: [number, Job | undefined] = splitJob(job);
    out.push(count);
    job = rest;
  }
  return out;
}

/**
 * Waits for `work`, but no longer than the pool's close (`closed`), the reader's `signal` or its
 * `timeout`: a task function whose promise never settles must not hold a read (size 0) for ever.
 * Resolves to 'done', 'closed', 'aborted' or 'timeout'; the work itself goes on.
 */
function settleOr(
  work: Promise<void>,
  closed: AbortSignal,
  options: ReadOptions | undefined,
): Promise<'done' | 'closed' | 'aborted' | 'timeout'> | 'closed' | 'aborted' {
  if (closed.aborted) return 'closed';
  const signal = options?.signal;
  if (signal?.aborted === true) return 'aborted';
  const timeout = options?.timeout;
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (how: 'done' | 'closed' | 'aborted' | 'timeout'): void => {
      if (timer !== undefined) clearTimeout(timer);
      closed.removeEventListener('abort', onClosed);
      signal?.removeEventListener('abort', onAborted);
      resolve(how);
    };
    const onClosed = (): void => finish('closed');
    const onAborted = (): void => finish('aborted');
    closed.addEventListener('abort', onClosed, { once: true });
    signal?.addEventListener('abort', onAborted, { once: true });
    if (typeof timeout === 'number' && timeout >= 0 && Number.isFinite(timeout)) {
      timer = setTimeout(() => finish('timeout'), timeout);
    }
    work.then(
      () => finish('done'),
      () => finish('done'),
    );
  });
}

/** A pool of tasks, evaluated on read; see the file comment. */
export class Pool implements PoolCore {
  /**
   * Seed shims (docs/pools.md "Seed class attributes"): the seed's pool built its lock, task
   * queue and workers from these class attributes. A pool here runs on one JS thread (no lock),
   * its queue is internal (chunk jobs) and its workers are pcall children, so nothing reads
   * them; they name the nearest shmsync classes so ported code that reads them keeps working.
   */
  static readonly LockCls: typeof DummyLock = DummyLock;
  /** Seed `TaskQueueCls` (alias of AsyncQueue there, too); not used by the pool, see LockCls. */
  static readonly TaskQueueCls: typeof AsyncQueue = AsyncQueue;
  /** Seed `WorkerCls` (alias of WorkerThread there, too); not used by the pool, see LockCls. */
  static readonly WorkerCls: typeof WorkerThread = WorkerThread;

  readonly #graph = new Graph<Task>();
  readonly #orderCache = new Map<Task, Task[]>();
  readonly #queue = new JobQueue<Job | typeof kStop>(takeChunk);
  readonly #workers: WorkerSlot[] = [];
  /** Workers told to stop, still finishing their jobs. */
  readonly #stopping = new Set<WorkerSlot>();
  readonly #mode: PcallMode;
  readonly #env: NodeJS.ProcessEnv | undefined;
  readonly #execArgv: readonly string[] | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  /** Aborted by close(): ends the workers' waits for task input. */
  readonly #abort = new AbortController();

  /** `size` workers (0: every task runs on the reading thread). */
  constructor(size = 0, options: PoolOptions = {}) {
    const opts = optionsObject('options', options);
    rejectUnknownOptions('options', opts, ['mode', 'env', 'execArgv'], { threads: 'mode', workers: 'mode' });
    const mode = (opts.mode ?? 'thread') as PcallMode;
    validateOneOf('options.mode', mode, ['thread', 'process'] as const);
    this.#mode = mode;
    this.#env = opts.env as NodeJS.ProcessEnv | undefined;
    this.#execArgv = opts.execArgv as readonly string[] | undefined;
    this.setSize(size);
  }

  /** Number of workers (0: synchronous mode). */
  size(): number {
    return this.#workers.length;
  }

  /** `'thread'` or `'process'`: where task functions run when size > 0. */
  get mode(): PcallMode {
    return this.#mode;
  }

  /** Pids (thread ids in thread mode) of the workers' children, for diagnostics and tests. */
  workerIds(): number[] {
    return this.#workers.map((w) => w.remote.pid).filter((pid): pid is number => pid !== undefined);
  }

  /**
   * Sets the number of workers and returns this. Growing starts workers (each a warm pcall
   * child); shrinking tells the surplus workers - exactly those, the last started - to stop after
   * the chunk each is running; the jobs still queued stay for the workers left. Going to 0 runs
   * the jobs still queued on this thread (the seed left them queued).
   */
  setSize(size = 0): this {
    validateInteger('size', size, 0, 4 * availableParallelism() + 64);
    if (this.#closed && size > 0) throw new ClosedError('the pool is closed');
    while (this.#workers.length < size) this.#startWorker();
    while (this.#workers.length > size) this.#stop(this.#workers.pop() as WorkerSlot);
    if (size === 0) void this.#runLeftovers();
    return this;
  }

  /** Number of tasks in the graph. */
  numTasks(): number {
    return this.#graph.nodes.length;
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Adds `task` and returns the reader of its output. A ChannelTask already added to another pool
   * is refused (TaskRegisteredError). The output channel is created unless the task has a writer.
   */
  addTask<T = unknown>(task: Task): PoolReader<T> {
    if (this.#closed) throw new ClosedError('the pool is closed');
    // The seed checked only tasks with a pool() (ChannelThreadTask); an IteratorTask in two pools
    // would be processed by both, so every task is checked here.
    const theirs = task instanceof ChannelTask ? task.pool() : owners.get(task)?.deref();
    if (theirs !== undefined && theirs !== this) {
      throw new TaskRegisteredError(`task ${String(task.id)} is already registered to another pool`);
    }
    if (task instanceof ChannelTask) task.setPool(this);
    else owners.set(task, new WeakRef(this));
    this.#orderCache.clear();
    this.#graph.addNode(task);
    let writer = task.writer();
    let channel;
    if (writer === undefined) {
      [writer, channel] = newChannel();
      task.setWriter(writer);
    } else {
      channel = readerFor(writer);
    }
    const rc = new PoolReader<T>(channel as ItemReader<T>, task, this);
    if (task instanceof ChannelTask) {
      const ic = task.reader();
      if (ic instanceof PoolReader) {
        ic._hold();
        if (ic.pool() === this && this.#graph.has(ic.task())) {
          this.#graph.addEdge(ic.task(), task);
          // The pool orders the work of its own tasks: read the input channel directly. Without
          // workers everything upstream already ran, so waiting could only wait forever.
          task.setRead((count, opts) => ic._read(count, { block: this.size() > 0, ...opts }));
        }
      }
    }
    return rc;
  }

  /**
   * Removes `task` (no-op if it is not in the graph) and returns this: it is set done, its output
   * is closed once no chunk of it runs (readers get what it produced), and its hold on its input
   * reader is released, which removes input tasks nobody reads any more.
   */
  removeTask(task: Task): this {
    if (!this.#graph.has(task)) return this;
    task.setDone();
    this.#graph.removeNode(task);
    this.#orderCache.clear();
    if (task.activeWriters === 0) task.close();
    if (task instanceof ChannelTask) {
      const ic = task.reader();
      if (ic instanceof PoolReader) ic._release();
    }
    return this;
  }

  /**
   * @internal See the file comment. `options` are the read's: at size 0 the work done here ends
   * the wait early on the reader's signal or timeout, and on close() (returns how it ended).
   */
  _prepareChannelRead(
    task: Task,
    count: number,
    options?: ReadOptions,
  ): Promise<'done' | 'closed' | 'aborted' | 'timeout'> | 'done' | 'closed' | 'aborted' {
    if (this.#closed) return 'closed';
    let chain = this.#orderCache.get(task);
    if (chain === undefined) {
      chain = this.#graph.inputInclusiveDfirstReversed(task);
      this.#orderCache.set(task, chain);
    }
    let minCount = 0;
    for (const t of chain) minCount = Math.max(minCount, t.minCount ?? count);
    const actual = count > 0 && count < minCount ? minCount : count;
    if (this.#workers.length > 0) {
      for (const t of chain) this.#queue.put(jobOf(t, actual));
      return 'done';
    }
    return settleOr(this.#runInline(chain, actual), this.#abort.signal, options);
  }

  async #runInline(chain: Task[], actual: number): Promise<void> {
    for (const t of chain) await this.#runJob(jobOf(t, actual));
  }

  /** Runs every chunk of `job` here, in order, until its task is done or the pool closes. */
  async #runJob(job: Job): Promise<void> {
    let left: Job | undefined = job;
    while (left !== undefined && !left.task.isDone() && !this.#closed) {
      const [count, rest]: [number, Job | undefined] = splitJob(left);
      await left.task.process(count);
      left = rest;
    }
  }

  #startWorker(): void {
    const remote = new RemoteWorker({
      mode: this.#mode,
      ...(this.#env === undefined ? {} : { env: this.#env }),
      ...(this.#execArgv === undefined ? {} : { execArgv: this.#execArgv }),
    });
    const slot: WorkerSlot = { remote, done: Promise.resolve(), stopped: false, wake: undefined };
    const onWait = (wake: (value: Job | typeof kStop) => void): void => {
      slot.wake = wake;
    };
    slot.done = (async () => {
      try {
        while (!slot.stopped) {
          let job = this.#queue.take(onWait);
          if (job instanceof Promise) job = await job;
          slot.wake = undefined;
          if (job === kStop) break;
          if (job.task.isDone()) continue; // the task ended before this chunk's turn
          await job.task.process(job.size, remote.apply, this.#abort.signal);
        }
      } finally {
        await remote.close();
      }
    })();
    this.#workers.push(slot);
  }

  /** Tells `slot` to stop after its current chunk (or now, if it waits for a job). */
  #stop(slot: WorkerSlot): void {
    slot.stopped = true;
    slot.wake?.(kStop);
    this.#stopping.add(slot);
    void slot.done.then(() => this.#stopping.delete(slot));
  }

  /** @internal Test hook: ends worker `index`'s child abruptly (worker.terminate() / SIGKILL). */
  _killWorkerChild(index: number): void {
    this.#workers[index]?.remote.kill();
  }

  /** Size 0: jobs queued for workers that are gone run here, in order. */
  async #runLeftovers(): Promise<void> {
    const jobs = this.#queue.drain().filter((job): job is Job => job !== kStop);
    for (const job of jobs) await this.#runJob(job);
  }

  /**
   * Stops the pool (idempotent): no more tasks or work. Jobs still queued are dropped; every task
   * is set done and its output closed, so every reader - and every chunk waiting for input -
   * wakes with what was produced (a chunk's wait for input it would never get ends with an
   * AbortError in its task's `error()`). A chunk whose function is running finishes; then the
   * workers' children exit. Resolves once they have.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      this.#queue.drain();
      for (const w of this.#workers.splice(0)) this.#stop(w);
      for (const task of [...this.#graph.nodes]) {
        task.setDone();
        task.close();
      }
      this.#abort.abort(new ClosedError('the pool was closed'));
      await Promise.all([...this.#stopping].map((w) => w.done));
    })();
    return this.#closing;
  }

  /**
   * close(), without waiting for chunks whose function is running: every worker's child is
   * killed (a function that blocks for ever - a synchronous loop, an Atomics.wait - would keep
   * close() pending for ever). Their chunks fail with ChildProcessException in their task's
   * `error()`. Resolves once every child has exited. Idempotent; also ends a pending close().
   */
  destroy(): Promise<void> {
    const closing = this.close();
    for (const w of this.#stopping) void w.remote.destroy();
    return closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The seed's ThreadPool: a Pool whose workers are worker threads (the default mode). */
export class ThreadPool extends Pool {}
