/**
 * WorkerThread (seed `async.thread.WorkerThread`): a worker thread consuming a queue of
 * `(fn, arg)` calls, one at a time, in order. `fn` travels as a pcall target (source text or a
 * module reference, compiled once per worker); `arg` and the result by structured clone (shmsync
 * handles by reference). Each call's promise settles with its result or error; a failing call
 * does not stop the worker. A `WorkerThread.stop` item ends it after the items before it.
 *
 * Dispatch (parent thread): a worker with its own queue (the default) gets every item as soon as
 * it is queued - the worker keeps them in order, so nothing waits for a round trip. A worker on
 * a shared WorkerQueue takes `prefetch` items at a time (default 1), so idle workers get the next
 * item and the load balances. Every item handed to the worker is tracked until it settles: when
 * the worker ends, the items it never started go back to a shared queue (or reject, on a private
 * one) and the one it was running rejects with ThreadExitedError - no promise is left pending.
 */
import { ClosedError } from '../errors';
import { rebuildError, type SerializedError } from '../pcall/error-codec';
import { decodeHandles, encodeHandles } from '../pcall/handle-codec';
import { optionsObject, rejectUnknownOptions, typeError, validateInteger } from '../validate';
import { ThreadExitedError } from './errors';
import type { FromWorker, ThreadTargetSpec } from './protocol';
import {
  kQueueMode,
  TerminatableThread,
  type StopAndJoinOptions,
  type ThreadEnd,
  type ThreadOptions,
} from './terminatable-thread';
import { kStop, WorkerQueue, type QueueConsumer, type QueueItem } from './worker-queue';

/**
 * The exports of a module target, already loaded in this thread or loadable with require(), so
 * an error class it exports is rebuilt as that class (as pcall does); undefined otherwise.
 */
function exportsOf(spec: ThreadTargetSpec | undefined): Record<string, unknown> | undefined {
  if (spec?.kind !== 'module') return undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a failing call only
    return require(spec.module) as Record<string, unknown>;
  } catch {
    return undefined; // ESM-only or not resolvable here: the error keeps its name on a plain class
  }
}

/** Options of a WorkerThread. */
export interface WorkerThreadOptions extends ThreadOptions {
  /**
   * Items handed to the worker before earlier ones finished. Default: unlimited with a private
   * queue, 1 with a shared one (given as `inq`).
   */
  prefetch?: number;
}

export class WorkerThread extends TerminatableThread<void> implements QueueConsumer {
  /** The seed's `WorkerThread.stop`: `enqueue(WorkerThread.stop)` ends the worker after earlier items. */
  static readonly stop = kStop;
  /** Seed attribute, unused there too (kept for the mapping; no polling happens here). */
  static readonly shutdownCheckTimeS = 0.5;

  /** The input queue (seed `inq`). */
  readonly inq: WorkerQueue;
  readonly #private: boolean;
  readonly #prefetch: number;
  /** Items handed to the worker and not settled yet, by call id (insertion order = run order). */
  readonly #inflight = new Map<number, QueueItem>();
  /** Spec ids this worker knows: a target's source crosses once per worker. */
  readonly #specIds = new Map<ThreadTargetSpec, number>();
  #nextId = 1;
  #stopping = false;
  #ended = false;

  /**
   * `inq`: a WorkerQueue to share with other WorkerThreads (seed `WorkerThread(inq)`); default a
   * private one. Call start() to run it; items queued before start() wait.
   */
  constructor(inq?: WorkerQueue, options: WorkerThreadOptions = {}) {
    const opts = optionsObject('options', options);
    const { prefetch, ...threadOptions } = opts;
    rejectUnknownOptions('options', opts, ['prefetch', 'daemon', 'execArgv', 'env', 'resourceLimits']);
    super(kQueueMode, undefined, threadOptions as ThreadOptions);
    if (inq !== undefined && !(inq instanceof WorkerQueue)) throw typeError('inq', 'a WorkerQueue', inq);
    if (prefetch !== undefined) validateInteger('options.prefetch', prefetch, 1, Number.MAX_SAFE_INTEGER);
    this.#private = inq === undefined;
    this.inq = inq ?? new WorkerQueue();
    this.#prefetch = (prefetch as number | undefined) ?? (this.#private ? Infinity : 1);
  }

  override start(): this {
    super.start();
    this.inq.attach(this);
    this.wake();
    return this;
  }

  /**
   * Queues `fn(arg, ctx)` on this worker's queue (for a shared queue: on that queue, so any of
   * its workers may run it). See WorkerQueue.enqueue(). `WorkerThread.stop` as `fn` ends the
   * worker after the items before it.
   */
  enqueue<R = unknown>(fn: unknown, arg?: unknown): Promise<Awaited<R>> {
    if (this.#private && (this.#stopping || this.#ended) && fn !== kStop) {
      return Promise.reject(new ClosedError('WorkerThread is stopping or has ended: no call is accepted any more'));
    }
    return this.inq.enqueue<R>(fn, arg);
  }

  /** The seed's tuple form `put([fn, arg])` (see WorkerQueue.put()). */
  put<R = unknown>(item: readonly [unknown, unknown?]): Promise<Awaited<R>> {
    if (this.#private && (this.#stopping || this.#ended) && Array.isArray(item) && item[0] !== kStop) {
      const p = Promise.reject(new ClosedError('WorkerThread is stopping or has ended: no call is accepted any more'));
      p.catch(() => {});
      return p;
    }
    return this.inq.put<R>(item);
  }

  /** Calls handed to the worker and not finished yet. */
  get pending(): number {
    return this.#inflight.size;
  }

  /**
   * Seed `stop_and_join()`: queues a stop message (the worker ends after the items queued before
   * it) and - unlike the seed, which did not wait - waits for the worker to end. With a shared
   * queue the stop item goes to that queue and may be taken by another of its workers, as in the
   * seed; use scheduleTermination() to end this one in particular.
   */
  override stopAndJoin(options: StopAndJoinOptions = {}): Promise<void> {
    if (this.threadId === undefined && this.#private && !this.#ended) {
      // Never started: nothing will ever run the private queue's items; settle them now.
      this.#ended = true;
      this.inq.close(
        new ThreadExitedError('WorkerThread stopped before it was started', {
          reason: 'stopped',
          started: false,
          threadId: undefined,
        }),
      );
    }
    if (!this.#stopping && this.isAlive()) void this.inq.put([kStop]);
    return this.joinWithin(options);
  }

  /** QueueConsumer: takes items while it has room. */
  wake(): void {
    while (!this.#stopping && !this.#ended && this.isAlive() && this.#inflight.size < this.#prefetch) {
      const item = this.inq.take();
      if (item === undefined) return;
      this.#dispatch(item);
    }
  }

  #dispatch(item: QueueItem): void {
    const id = this.#nextId++;
    this.#inflight.set(id, item);
    if (item.spec === undefined) {
      this.#stopping = true;
      this.send({ t: 'stop', id });
      this.refresh();
      return;
    }
    const known = this.#specIds.get(item.spec);
    const specId = known ?? this.#specIds.size + 1;
    try {
      const arg = encodeHandles(item.arg);
      // postMessage clones synchronously: an argument that cannot be cloned throws here.
      this.send(known === undefined ? { t: 'call', id, specId, spec: item.spec, arg } : { t: 'call', id, specId, arg });
    } catch (err) {
      this.#inflight.delete(id);
      item.reject(err);
      return;
    }
    if (known === undefined) this.#specIds.set(item.spec, specId);
    if (this.#inflight.size === 1) this.refresh();
  }

  protected override onCallMessage(m: FromWorker): void {
    if (m.t !== 'done' && m.t !== 'fail') return;
    const item = this.#inflight.get(m.id);
    if (item === undefined) return;
    this.#inflight.delete(m.id);
    if (m.t === 'done') {
      let value: unknown;
      try {
        value = decodeHandles(m.value);
      } catch (err) {
        item.reject(err);
        this.wake();
        return;
      }
      item.resolve(value);
    } else {
      item.reject(
        rebuildError(m.error as SerializedError, { pid: this.threadId, moduleExports: exportsOf(item.spec) }),
      );
    }
    this.wake();
    if (this.#inflight.size === 0) this.refresh();
  }

  /** Referenced while calls are in flight, a stop is under way, or its private queue holds items. */
  protected override hasWork(): boolean {
    return this.#inflight.size > 0 || this.#stopping || (this.#private && this.inq.size > 0);
  }

  protected override onEnd(end: ThreadEnd): void {
    this.#ended = true;
    this.inq.detach(this);
    const giveBack: QueueItem[] = [];
    let first = true;
    for (const item of this.#inflight.values()) {
      // A stop or the flag ends the worker between calls: nothing unsettled had started (some
      // items may still have been in transit to it). A kill or crash can hit a call mid-run:
      // calls run in order, so the first unsettled one is the one that was running.
      const started = (end.reason === 'killed' || end.reason === 'crashed') && first;
      first = false;
      if (!started && !this.#private && item.spec !== undefined) {
        giveBack.push(item);
        continue;
      }
      item.reject(this.#exitError(end, started));
    }
    this.#inflight.clear();
    if (this.#private) this.inq.close(this.#exitError(end, false));
    else this.inq.giveBack(giveBack);
  }

  #exitError(end: ThreadEnd, started: boolean): ThreadExitedError {
    const what = started ? 'while running this call' : 'before running this call';
    return new ThreadExitedError(`WorkerThread ${this.threadId ?? '?'} ended (${end.reason}) ${what}`, {
      reason: end.reason,
      started,
      threadId: this.threadId,
      exitCode: end.exitCode,
      ...(end.error === undefined ? {} : { cause: end.error }),
    });
  }
}
