/**
 * TerminatableThread (seed `async.thread.TerminatableThread`): a worker thread running one
 * function, which ends it cooperatively when asked. Python's thread subclass overriding `run()`
 * becomes a worker running `fn(arg, ctx)`; the seed's `_should_terminate()` is
 * `ctx.shouldTerminate()` in the worker, one atomic load of a flag in a SharedArrayBuffer the
 * parent sets. This class also carries what WorkerThread (worker-thread.ts) shares with it:
 * starting the worker, the flag, joining, killing, the registry of live threads.
 *
 * Runs in the parent thread (the one that created the handle). Seed threads are daemons: by
 * default the worker does not keep the process alive on its own - except while someone awaits
 * `join()` / `stopAndJoin()` (and, for a WorkerThread, while calls are pending).
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { rebuildError, type SerializedError } from '../pcall/error-codec';
import { decodeHandles, encodeHandles } from '../pcall/handle-codec';
import { optionsObject, rejectUnknownOptions, validateBoolean, validateTimeout } from '../validate';
import { ThreadExitedError, type ThreadEndReason } from './errors';
import {
  kFlagIndex,
  kTerminate,
  kThreadMarker,
  type FromWorker,
  type ThreadWorkerData,
  type ToWorker,
} from './protocol';
import { registerThread, unregisterThread } from './registry';
import { threadSpecOf, type ThreadTarget } from './targets';

/** Entry point of every thread of this layer. */
export const kThreadMain = path.join(__dirname, 'worker-main.js');

/** Options of a thread. */
export interface ThreadOptions {
  /**
   * Seed threads are daemons (true, the default): an idle thread does not keep the process
   * alive. false: the worker is referenced for its whole life.
   */
  daemon?: boolean;
  /** Node options of the worker (`new Worker(..., { execArgv })`). */
  execArgv?: readonly string[];
  /** Environment of the worker (default: a copy of process.env). */
  env?: NodeJS.ProcessEnv;
  /** Resource limits of the worker's heap (`new Worker(..., { resourceLimits })`). */
  resourceLimits?: import('node:worker_threads').ResourceLimits;
}

/** Options of stopAndJoin(). */
export interface StopAndJoinOptions {
  /**
   * Milliseconds to wait for a cooperative end; then the worker is killed (`kill()`), and the
   * join rejects with a ThreadExitedError (`reason: 'killed'`). Default: wait forever.
   */
  timeout?: number;
}

const kOptionKeys = ['daemon', 'execArgv', 'env', 'resourceLimits'];

/** Target of a WorkerThread (internal): the worker serves a queue of calls instead of one function. */
export const kQueueMode: unique symbol = Symbol('shmsync.thread.queue');

/** How the worker ended, as this handle saw it. */
export interface ThreadEnd {
  readonly reason: ThreadEndReason;
  readonly exitCode: number | null;
  readonly error?: unknown;
  /** Ids of calls the worker reported it never started ('end' message). */
  readonly unstarted: readonly number[];
}

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export class TerminatableThread<R = unknown> {
  readonly #options: Required<Pick<ThreadOptions, 'daemon'>> & ThreadOptions;
  readonly #flagBuffer = new SharedArrayBuffer(4);
  readonly #flag = new Int32Array(this.#flagBuffer);
  readonly #target: ThreadTarget | typeof kQueueMode;
  readonly #arg: unknown;
  #worker: Worker | undefined;
  #threadId: number | undefined;
  #state: 'new' | 'running' | 'ended' = 'new';
  #killing = false;
  #endReason: 'stopped' | 'terminated' | undefined;
  #unstarted: readonly number[] = [];
  #crash: unknown;
  #result: { ok: true; value: unknown } | { ok: false; error: unknown } | undefined;
  readonly #joined = deferred<R>();
  readonly #ended = deferred<ThreadEnd>();
  /** Reasons the worker must stay referenced (joiners, pending calls). */
  #holds = 0;
  #terminatedHookRan = false;

  /**
   * A thread that will run `target(arg, ctx)` in a worker once started. `target` travels as a
   * pcall target (source text or a module reference); `arg` by structured clone (shmsync handles
   * by reference). Subclasses (WorkerThread) pass no target.
   */
  constructor(target: ThreadTarget, arg?: unknown, options?: ThreadOptions);
  /** @internal WorkerThread's form. */
  constructor(target: typeof kQueueMode, arg: undefined, options?: ThreadOptions);
  constructor(target: ThreadTarget | typeof kQueueMode, arg?: unknown, options: ThreadOptions = {}) {
    const opts = optionsObject('options', options);
    rejectUnknownOptions('options', opts, kOptionKeys);
    if (opts.daemon !== undefined) validateBoolean('options.daemon', opts.daemon);
    this.#options = { ...(opts as ThreadOptions), daemon: (opts.daemon as boolean | undefined) ?? true };
    // Validate now: a bad target is the caller's mistake, thrown here rather than in the worker.
    if (target !== kQueueMode) threadSpecOf('target', target);
    this.#target = target;
    this.#arg = arg;
    // A handle rejected join() nobody awaits must not crash the process: join() hands out the
    // same promise, which still rejects for whoever awaits it.
    this.#joined.promise.catch(() => {});
  }

  /** Starts the worker (seed: `start()` returns self). Starting twice throws. */
  start(): this {
    if (this.#state !== 'new') throw new Error('TerminatableThread.start(): the thread was already started');
    const data: ThreadWorkerData =
      this.#target === kQueueMode
        ? { marker: kThreadMarker, mode: 'queue', flag: this.#flagBuffer }
        : {
            marker: kThreadMarker,
            mode: 'run',
            flag: this.#flagBuffer,
            spec: threadSpecOf('target', this.#target),
            arg: encodeHandles(this.#arg),
          };
    const worker = new Worker(kThreadMain, {
      workerData: data,
      // Like pcall: the worker does not inherit this process's Node flags unless asked (loaders
      // such as a test runner's would make every start several times slower).
      execArgv: [...(this.#options.execArgv ?? [])],
      ...(this.#options.env ? { env: this.#options.env } : {}),
      ...(this.#options.resourceLimits ? { resourceLimits: this.#options.resourceLimits } : {}),
    });
    this.#worker = worker;
    this.#threadId = worker.threadId;
    this.#state = 'running';
    registerThread(this);
    worker.on('message', (m: FromWorker) => this.#onMessage(m));
    worker.on('error', (err) => {
      this.#crash ??= err;
    });
    worker.once('exit', (code) => this.#onExit(code));
    this.#updateRef();
    return this;
  }

  /** The worker's threadId (undefined before start()). */
  get threadId(): number | undefined {
    return this.#threadId;
  }

  /** True between start() and the worker's end. */
  isAlive(): boolean {
    return this.#state === 'running';
  }

  /**
   * The seed's `_should_terminate()`, parent side: whether termination was scheduled. The worker
   * asks its own `ctx.shouldTerminate()` (the same flag); overriding this method does not change
   * what the worker sees.
   */
  shouldTerminate(): boolean {
    return Atomics.load(this.#flag, kFlagIndex) !== 0;
  }

  /**
   * Asks the thread to end as soon as it can (seed `schedule_termination()`; does not wait): sets
   * the shared flag, wakes a worker blocked in `ctx.waitForTermination()`, and aborts its
   * `ctx.signal` at its next event-loop turn. Idempotent; before start(), the thread ends as soon
   * as it starts.
   */
  scheduleTermination(): void {
    if (Atomics.load(this.#flag, kFlagIndex) === kTerminate) return;
    Atomics.store(this.#flag, kFlagIndex, kTerminate);
    Atomics.notify(this.#flag, kFlagIndex);
    this.#send({ t: 'terminate' });
  }

  /**
   * Seed `stop_and_join()`: schedules termination and waits for the thread to end; then the
   * `terminated()` hook has run. Resolves with the run function's result; rejects with its error,
   * or with a ThreadExitedError when the thread ended without a result (killed - also by
   * `timeout` - or crashed). Not started: resolves at once (nothing to join).
   */
  stopAndJoin(options: StopAndJoinOptions = {}): Promise<R> {
    this.scheduleTermination();
    return this.joinWithin(options);
  }

  /**
   * Waits for the thread to end (without asking it to): the run function's result, as
   * stopAndJoin(). While awaited, the worker keeps the process alive.
   */
  join(): Promise<R> {
    return this.joinWithin({});
  }

  /** join(), killing the worker when `timeout` ms pass first. Used by stopAndJoin(). */
  protected joinWithin(options: StopAndJoinOptions): Promise<R> {
    const opts = optionsObject('options', options);
    rejectUnknownOptions('options', opts, ['timeout']);
    const timeout = validateTimeout('options.timeout', opts.timeout);
    if (this.#state === 'new') return Promise.resolve(undefined as R);
    if (this.#state === 'ended') return this.#joined.promise;
    this.hold(1);
    const timer = timeout >= 0 ? setTimeout(() => void this.kill(), timeout) : undefined;
    const done = (): void => {
      if (timer) clearTimeout(timer);
      this.hold(-1);
    };
    this.#ended.promise.then(done, done);
    return this.#joined.promise;
  }

  /**
   * Stops the worker at once (`worker.terminate()`), whatever it is running: no cooperative end.
   * Resolves when it has ended. A JS addition (Python threads cannot be killed).
   */
  async kill(): Promise<void> {
    if (this.#state !== 'running') return;
    this.#killing = true;
    this.hold(1);
    await this.#worker?.terminate();
    await this.#ended.promise;
    this.hold(-1);
  }

  /** Resolves with how the worker ended (never rejects). While awaited, the worker keeps the process alive. */
  ended(): Promise<ThreadEnd> {
    if (this.#state === 'running') {
      this.hold(1);
      const done = (): void => this.hold(-1);
      this.#ended.promise.then(done, done);
    }
    return this.#ended.promise;
  }

  /**
   * Hook (seed `_terminated()`): called once in the parent after the worker has ended, for any
   * reason, before join() settles. Override it; the default does nothing. An exception it throws
   * is reported with process.emitWarning and does not change the join's outcome.
   */
  terminated(): void {}

  // ---- for WorkerThread --------------------------------------------------------------------

  /** Sends a message to the worker (dropped when it is not running). */
  protected send(message: ToWorker): void {
    this.#send(message);
  }

  /** Holds (+1) or releases (-1) a reason to keep the worker referenced. */
  protected hold(delta: number): void {
    this.#holds += delta;
    this.#updateRef();
  }

  /** Whether the subclass has work someone waits for (the worker is then referenced). */
  protected hasWork(): boolean {
    return false;
  }

  /** Re-evaluates whether the worker must be referenced (after hasWork() changed). */
  protected refresh(): void {
    this.#updateRef();
  }

  /** Called for queue-mode messages ('done' / 'fail'); the base handles 'result' and 'end'. */
  protected onCallMessage(_m: FromWorker): void {}

  /** Called once when the worker has ended, before join() settles. */
  protected onEnd(_end: ThreadEnd): void {}

  // ---- internals ---------------------------------------------------------------------------

  #send(message: ToWorker): void {
    if (this.#state === 'running') this.#worker?.postMessage(message);
  }

  #updateRef(): void {
    const w = this.#worker;
    if (w === undefined || this.#state !== 'running') return;
    if (!this.#options.daemon || this.#holds > 0 || this.hasWork()) w.ref();
    else w.unref();
  }

  #onMessage(m: FromWorker): void {
    if (m === null || typeof m !== 'object') return;
    if (m.t === 'result') {
      this.#result = m.ok
        ? { ok: true, value: decodeHandles(m.value) }
        : { ok: false, error: rebuildError(m.error as SerializedError, { pid: this.threadId }) };
    } else if (m.t === 'end') {
      this.#endReason = m.reason;
      this.#unstarted = Array.isArray(m.unstarted) ? m.unstarted : [];
    } else {
      this.onCallMessage(m);
    }
  }

  #onExit(code: number): void {
    this.#state = 'ended';
    unregisterThread(this);
    const reason: ThreadEndReason = this.#killing
      ? 'killed'
      : (this.#endReason ??
        (this.#crash !== undefined || (code !== 0 && this.#result === undefined) ? 'crashed' : 'exited'));
    const end: ThreadEnd = {
      reason,
      exitCode: reason === 'killed' ? null : code,
      ...(this.#crash === undefined ? {} : { error: this.#crash }),
      unstarted: this.#unstarted,
    };
    try {
      this.onEnd(end);
    } finally {
      if (!this.#terminatedHookRan) {
        this.#terminatedHookRan = true;
        try {
          this.terminated();
        } catch (err) {
          process.emitWarning(`TerminatableThread terminated() hook threw: ${String(err)}`, {
            code: 'SHMSYNC_THREAD_HOOK',
          });
        }
      }
      this.#settleJoin(end);
      this.#ended.resolve(end);
    }
  }

  #settleJoin(end: ThreadEnd): void {
    const r = this.#result;
    if (r?.ok === true && end.reason !== 'killed') this.#joined.resolve(r.value as R);
    else if (r?.ok === false && end.reason !== 'killed') this.#joined.reject(r.error);
    else if (
      end.reason === 'stopped' ||
      end.reason === 'terminated' ||
      (end.reason === 'exited' && this.#target === kQueueMode)
    )
      this.#joined.resolve(undefined as R);
    else
      this.#joined.reject(
        new ThreadExitedError(
          `thread ${this.threadId ?? '?'} ended without a result (${end.reason}${end.exitCode === null ? '' : `, exit code ${end.exitCode}`})`,
          { reason: end.reason, started: true, threadId: this.threadId, exitCode: end.exitCode, cause: end.error },
        ),
      );
  }
}
