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
import { Graph } from './graph';
import { JobQueue } from './job-queue';
import { PoolReader, type PoolCore } from './pool-reader';
import { RemoteWorker } from './remote';
import { ChannelTask, type Task } from './task';
import { newChannel, readerFor, type ItemReader } from './channel-port';

/** Options of a {@link Pool}. */
export interface PoolOptions {
  /** Where task functions run when size > 0: `'thread'` (default, worker threads) or `'process'`. */
  mode?: PcallMode;
  /** Environment of worker processes / threads (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Node flags of the workers (default `[]`). */
  execArgv?: readonly string[];
}

/** A job for the workers: process `count` items of `task`. */
interface Job {
  readonly task: Task;
  readonly count: number;
}
const kStop = Symbol('stop');

/** One worker: its child and the loop taking jobs for it. */
interface WorkerSlot {
  readonly remote: RemoteWorker;
  done: Promise<void>;
}

/** The chunk sizes of one task for a step of `actual` items (integer chunking, Decision 12). */
export function chunksOf(actual: number, maxChunksize: number): number[] {
  if (maxChunksize > 0 && actual > maxChunksize) {
    const numChunks = Math.floor(actual / maxChunksize);
    const chunks = new Array<number>(numChunks).fill(maxChunksize);
    const remainder = actual - numChunks * maxChunksize;
    if (remainder > 0) chunks.push(remainder);
    return chunks;
  }
  return [actual];
}

/** A pool of tasks, evaluated on read; see the file comment. */
export class Pool implements PoolCore {
  readonly #graph = new Graph<Task>();
  readonly #orderCache = new Map<Task, Task[]>();
  readonly #queue = new JobQueue<Job | typeof kStop>();
  readonly #workers: WorkerSlot[] = [];
  /** Workers told to stop, still finishing their jobs. */
  readonly #stopping = new Set<Promise<void>>();
  readonly #mode: PcallMode;
  readonly #env: NodeJS.ProcessEnv | undefined;
  readonly #execArgv: readonly string[] | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

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
   * child); shrinking tells the surplus workers to stop once they have taken the jobs queued
   * before. Going to 0 runs the jobs still queued on this thread (the seed left them queued).
   */
  setSize(size = 0): this {
    validateInteger('size', size, 0, 4 * availableParallelism() + 64);
    if (this.#closed && size > 0) throw new ClosedError('the pool is closed');
    while (this.#workers.length < size) this.#startWorker();
    while (this.#workers.length > size) {
      const w = this.#workers.pop() as WorkerSlot;
      this.#queue.put(kStop);
      this.#stopping.add(w.done);
      void w.done.then(() => this.#stopping.delete(w.done));
    }
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
    if (task instanceof ChannelTask) {
      const theirs = task.pool();
      if (theirs === undefined) task.setPool(this);
      else if (theirs !== this) throw new TaskRegisteredError(`task ${String(task.id)} is already registered to another pool`);
    }
    this.#orderCache.clear();
    this.#graph.addNode(task);
    let writer = task.writer();
    let channel;
    if (writer === undefined) {
      [writer, channel] = newChannel(this.size() > 0);
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
          task.setRead((count) => ic._read(count, { block: this.size() > 0 }));
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

  /** @internal See the file comment. */
  _prepareChannelRead(task: Task, count: number): Promise<void> | void {
    if (this.#closed) return;
    let chain = this.#orderCache.get(task);
    if (chain === undefined) {
      chain = this.#graph.inputInclusiveDfirstReversed(task);
      this.#orderCache.set(task, chain);
    }
    let minCount = 0;
    for (const t of chain) minCount = Math.max(minCount, t.minCount ?? count);
    const actual = count > 0 && count < minCount ? minCount : count;
    if (this.#workers.length > 0) {
      for (const t of chain) for (const chunk of chunksOf(actual, t.maxChunksize)) this.#queue.put({ task: t, count: chunk });
      return;
    }
    return this.#runInline(chain, actual);
  }

  async #runInline(chain: Task[], actual: number): Promise<void> {
    for (const t of chain) for (const chunk of chunksOf(actual, t.maxChunksize)) await t.process(chunk);
  }

  #startWorker(): void {
    const remote = new RemoteWorker({
      mode: this.#mode,
      ...(this.#env === undefined ? {} : { env: this.#env }),
      ...(this.#execArgv === undefined ? {} : { execArgv: this.#execArgv }),
    });
    const slot: WorkerSlot = { remote, done: Promise.resolve() };
    slot.done = (async () => {
      try {
        for (;;) {
          let job = this.#queue.take();
          if (job instanceof Promise) job = await job;
          if (job === kStop) break;
          await job.task.process(job.count, remote.apply);
        }
      } finally {
        await remote.close();
      }
    })();
    this.#workers.push(slot);
  }

  /** Size 0: jobs queued for workers that are gone run here, in order. */
  async #runLeftovers(): Promise<void> {
    const jobs: Job[] = [];
    for (const job of this.#queue.drain()) {
      // A stop for a worker still busy with a job: it must still find it.
      if (job === kStop) this.#queue.put(kStop);
      else jobs.push(job);
    }
    for (const job of jobs) await job.task.process(job.count);
  }

  /**
   * Stops the pool: no more tasks or work; the workers finish the jobs already queued, then their
   * children exit (resolves once they have). Every task is set done and its output closed once
   * its last chunk ends, so no reader waits forever. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      this.setSize(0);
      await Promise.all([...this.#stopping]);
      for (const task of [...this.#graph.nodes]) {
        task.setDone();
        if (task.activeWriters === 0) task.close();
      }
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The seed's ThreadPool: a Pool whose workers are worker threads (the default mode). */
export class ThreadPool extends Pool {}
