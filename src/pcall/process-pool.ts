/**
 * A warm pool of pcall children (processes or worker threads) kept alive between calls, so
 * repeated pcalls skip the ~76 ms spawn. `pcall(targets, { pool })` queues its calls on the
 * pool's children, one call per child at a time; targets are still shipped with every call (a
 * child caches what it loaded). A child that dies is replaced. Runs in the parent.
 *
 * Idle children do not keep the parent alive (they are unref'd), and a child process exits when
 * its parent does, even by SIGKILL (child-main.ts exits on IPC 'disconnect'); threads end with
 * the process.
 */
import { isStartedMessage, type CallSlot, type Executor } from './call-slot';
import { spawnRunner, type ExitInfo, type Runner } from './child-runner';
import { poolOptionsOf, type PcallMode, type PoolOptions } from './options';
import { kPoolBrand } from './protocol';
import { ResultQueue, type ResultChannel } from './transport';

/** Options of {@link ProcessPool}. */
export interface ProcessPoolOptions {
  /** Number of children (default `os.availableParallelism()`). */
  size?: number;
  /** `'process'` (default) or `'thread'`. */
  mode?: PcallMode;
  /** Environment of the children (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Node flags of the children (default `[]`). */
  execArgv?: readonly string[];
  /** Working directory of child processes. */
  cwd?: string;
}

interface Job {
  readonly slot: CallSlot;
  readonly channel: ResultChannel;
}

interface PoolChild {
  readonly runner: Runner;
  busy: Job | undefined;
  /** Channels already listening to this child (a call may run several jobs on it). */
  readonly channels: WeakSet<ResultChannel>;
  completed: number;
}

// Children that die idle before their first call, in a row, before the pool stops replacing them
// (a bad execArgv or env would otherwise respawn forever).
const kMaxStartFailures = 3;

/**
 * A pool of warm children for pcall.
 *
 * ```ts
 * await using pool = new ProcessPool({ size: 4 });
 * await pcall(work, { iargs, pool });   // reuses the same 4 children
 * await pcall(work, { iargs, pool });
 * ```
 */
export class ProcessPool {
  /** Number of children the pool keeps. */
  readonly size: number;
  /** Whether children are processes or worker threads. */
  readonly mode: PcallMode;
  readonly #options: PoolOptions;
  readonly #children = new Set<PoolChild>();
  readonly #queue: Job[] = [];
  readonly #pending = new Set<Job>();
  #closed = false;
  #stopping = false;
  #startFailures = 0;
  #broken: ExitInfo | undefined;
  #closing: Promise<void> | undefined;
  /** One result queue for every call on this pool (created lazily, removed at close). */
  #results: ResultQueue | undefined;

  constructor(options?: ProcessPoolOptions) {
    this.#options = poolOptionsOf(options);
    this.size = this.#options.size;
    this.mode = this.#options.mode;
    Object.defineProperty(this, kPoolBrand, { value: true });
    for (let i = 0; i < this.size; i += 1) this.#spawn();
  }

  /** @internal A result channel on the pool's shared result queue (pcall.ts). */
  createChannel(n: number): ResultChannel {
    this.#results ??= new ResultQueue();
    return this.#results.channel(n);
  }

  /** True once close() or destroy() was called: new pcalls on it throw ClosedError. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Pids (thread ids in thread mode) of the current children. */
  get pids(): number[] {
    return [...this.#children].map((c) => c.runner.pid).filter((pid): pid is number => pid !== undefined);
  }

  #spawn(): void {
    const child: PoolChild = {
      runner: spawnRunner(this.#options, false),
      busy: undefined,
      channels: new WeakSet(),
      completed: 0,
    };
    child.runner.unref();
    child.runner.subscribe((message) => {
      // Only the call this child runs now can be starting (one call per child at a time).
      const slot = child.busy?.slot;
      if (isStartedMessage(message, slot)) slot!.started();
    });
    this.#children.add(child);
    void child.runner.exited.then((exit) => this.#exited(child, exit));
  }

  async #exited(child: PoolChild, exit: ExitInfo): Promise<void> {
    this.#children.delete(child);
    const job = child.busy;
    if (job) {
      // Anything the child sent before dying counts: drain before declaring the call dead.
      await job.channel.flush(child.runner);
      if (!job.slot.message) job.slot.exit = exit;
      this.#finish(job);
    } else if (child.completed === 0 && !this.#stopping) {
      this.#startFailures += 1;
    }
    if (this.#stopping) return;
    if (this.#startFailures >= kMaxStartFailures || exit.error !== undefined) {
      this.#broken = exit;
      if (this.#children.size === 0) for (const queued of this.#queue.splice(0)) this.#fail(queued, exit);
      return;
    }
    this.#spawn();
    this.#dispatch();
  }

  #fail(job: Job, exit: ExitInfo | undefined): void {
    job.slot.exit = exit;
    this.#finish(job);
  }

  #finish(job: Job): void {
    this.#pending.delete(job);
    job.slot.settle();
  }

  #dispatch(): void {
    for (const child of this.#children) {
      if (child.busy || !child.runner.alive) continue;
      const job = this.#queue.shift();
      if (job === undefined) return;
      child.busy = job;
      job.slot.runner = child.runner;
      if (!child.channels.has(job.channel)) {
        child.channels.add(job.channel);
        job.channel.attach(child.runner); // detached by the channel's close() when the pcall ends
      }
      child.runner.ref();
      child.runner.send(job.slot.workMessage(job.channel, false));
      job.slot.dispatched();
    }
  }

  #resultArrived(slot: CallSlot): void {
    for (const child of this.#children) {
      const job = child.busy;
      if (job?.slot !== slot) continue;
      child.busy = undefined;
      child.completed += 1;
      this.#startFailures = 0;
      child.runner.unref();
      this.#finish(job);
      break;
    }
    this.#dispatch();
  }

  /** @internal The executor a Pcall with `{ pool: this }` runs on. */
  createExecutor(): Executor {
    const jobs: Job[] = [];
    return {
      start: (slots, channel) => {
        for (const slot of slots) {
          const job = { slot, channel };
          jobs.push(job);
          this.#pending.add(job);
          if (this.#broken && this.#children.size === 0) this.#fail(job, this.#broken);
          else this.#queue.push(job);
        }
        this.#dispatch();
      },
      resultArrived: (slot) => this.#resultArrived(slot),
      signal: (signal) => {
        for (const job of jobs) if (!job.slot.isSettled && job.slot.runner) job.slot.runner.signal(signal);
      },
      cancelPending: () => {
        for (const job of jobs) {
          const at = this.#queue.indexOf(job);
          if (at >= 0) {
            this.#queue.splice(at, 1);
            this.#fail(job, undefined);
          }
        }
      },
    };
  }

  /**
   * Stops accepting calls, waits for the queued and running ones, then ends every child and
   * resolves once all have exited. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      await Promise.all([...this.#pending].map((job) => job.slot.settled));
      await this.#stop((runner) => runner.send({ $pcall: 'stop' }));
    })();
    return this.#closing;
  }

  /** Kills every child now (SIGKILL); queued and running calls fail. Resolves once all exited. */
  destroy(): Promise<void> {
    this.#closed = true;
    for (const job of this.#queue.splice(0)) this.#fail(job, undefined);
    return this.#stop((runner) => runner.signal('SIGKILL'));
  }

  async #stop(end: (runner: Runner) => void): Promise<void> {
    this.#stopping = true;
    const children = [...this.#children];
    for (const child of children) {
      child.runner.ref(); // keep the parent alive until the children are gone
      end(child.runner);
    }
    await Promise.all(children.map((c) => c.runner.exited));
    this.#results?.close();
    this.#results = undefined;
  }

  /** close(). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
