/**
 * WorkerQueue: the input queue of WorkerThreads (the seed's `inq`, a `queue.Queue` of
 * `(routine, arg)` tuples). It lives in the parent thread: each item waits here until a worker
 * takes it. One queue may feed several WorkerThreads (the seed's pool shares one queue among its
 * workers): each takes the next item when it has room, so the load balances; a
 * `WorkerThread.stop` item is taken by exactly one worker and ends that one only.
 *
 * Parent thread only (one JS thread: no locking). Items are settled by the worker that ran them.
 */
import { typeError } from '../validate';
import { threadSpecOf } from './targets';
import type { ThreadTargetSpec } from './protocol';

/** The seed's `WorkerThread.stop`: put `(stop, arg)` to end the worker that takes it. */
export const kStop: (...args: unknown[]) => never = Object.freeze(function stop(): never {
  throw new Error('WorkerThread.stop is a message for a WorkerThread queue, not a function to call');
});

/** One queued call (internal). */
export interface QueueItem {
  /** The target's wire form; undefined for a stop item. */
  readonly spec: ThreadTargetSpec | undefined;
  readonly arg: unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;
}

/** A consumer (a WorkerThread) that wants to know when items arrive. */
export interface QueueConsumer {
  /** Called when an item was put and this consumer may take it. */
  wake(): void;
}

export class WorkerQueue {
  #items: QueueItem[] = [];
  #head = 0;
  #closed: Error | undefined;
  readonly #consumers = new Set<QueueConsumer>();

  /** Items waiting for a worker. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** The seed's `qsize()`. */
  qsize(): number {
    return this.size;
  }

  /** The seed's `empty()`. */
  empty(): boolean {
    return this.size === 0;
  }

  /**
   * Queues the call `fn(arg, ctx)` (seed `inq.put((fn, arg))`). Resolves with its result once a
   * worker ran it; rejects with its error (rebuilt, `cause` = RemoteException) or with a
   * ThreadExitedError when the worker ended before or while running it. `fn` is
   * `WorkerThread.stop` to end the worker that takes it (after the calls before it).
   */
  enqueue<R = unknown>(fn: unknown, arg?: unknown): Promise<Awaited<R>> {
    const spec = fn === kStop ? undefined : threadSpecOf('fn', fn);
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise<Awaited<R>>((resolve, reject) => {
      this.#items.push({ spec, arg, resolve: resolve as (v: unknown) => void, reject });
      for (const c of this.#consumers) c.wake();
    });
  }

  /**
   * The seed's tuple form: `put([fn, arg])`. Same as enqueue(), except that a failure nobody
   * awaits is not an unhandled rejection: the returned promise is marked handled (awaiting it
   * still sees the error) - the seed logged failures and went on.
   */
  put<R = unknown>(item: readonly [unknown, unknown?]): Promise<Awaited<R>> {
    if (!Array.isArray(item) || item.length < 1 || item.length > 2)
      throw typeError('item', "a tuple [fn, arg] (the seed's (routine, arg))", item);
    const p = this.enqueue<R>(item[0], item[1]);
    p.catch(() => {});
    return p;
  }

  // ---- for WorkerThread (internal) ----------------------------------------------------------

  /** Takes the next item, or undefined. */
  take(): QueueItem | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined as unknown as QueueItem;
    this.#head += 1;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Puts items a worker took but never started back at the front, in order. */
  giveBack(items: readonly QueueItem[]): void {
    if (items.length === 0) return;
    this.#items = [...items, ...this.#items.slice(this.#head)];
    this.#head = 0;
    for (const c of this.#consumers) c.wake();
  }

  attach(c: QueueConsumer): void {
    this.#consumers.add(c);
  }

  detach(c: QueueConsumer): void {
    this.#consumers.delete(c);
  }

  /** Rejects every waiting item and every later enqueue with `err` (a private queue whose worker ended). */
  close(err: Error): void {
    this.#closed ??= err;
    for (let item = this.take(); item !== undefined; item = this.take()) item.reject(err);
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#closed !== undefined;
  }
}
