/**
 * AsyncQueue (seed `async.util.AsyncQueue`): an in-process FIFO with a writable flag and
 * promise-based waits. Differences from the seed, on purpose (docs/channels.md):
 * - a bounded `maxsize` is honoured: `put` waits while the queue is full (the seed ignored it);
 * - waits never poll, take an AbortSignal, and a timeout rejects with TimeoutError (the seed's
 *   `queue.Empty`/`Full`); `block: false` is a zero timeout;
 * - a get on a closed (non-writable) and empty queue rejects with ReadOnly, as ShmQueue does
 *   once it has ended and drained (the seed raised `Empty`).
 * JS thread only (a worker thread has its own queues; use a shared channel across threads).
 *
 * Invariants: getters wait only while the queue is empty; putters wait only while it is full
 * (`maxsize > 0` and `qsize() >= maxsize`); both lists are empty while not writable.
 */
import { ReadOnly, TimeoutError } from '../errors';
import { validateInteger } from '../validate';
import { Fifo } from './fifo';
import { park, type Waiter } from './waiter';
import { parseWait, type WaitOptions } from './wait-options';

export type { WaitOptions } from './wait-options';

export class AsyncQueue<T = unknown> {
  /** Most items held at once; 0: unbounded. */
  readonly maxsize: number;
  readonly #items = new Fifo<T>();
  readonly #getters = new Fifo<Waiter<T, undefined>>();
  readonly #putters = new Fifo<Waiter<void, T>>();
  #writable = true;

  constructor(maxsize = 0) {
    validateInteger('maxsize', maxsize, 0, 2 ** 53 - 1);
    this.maxsize = maxsize;
  }

  /** Items in the queue now. */
  qsize(): number {
    return this.#items.length;
  }

  empty(): boolean {
    return this.#items.length === 0;
  }

  /** True when bounded and holding `maxsize` items. */
  full(): boolean {
    return this.maxsize > 0 && this.#items.length >= this.maxsize;
  }

  writable(): boolean {
    return this.#writable;
  }

  /**
   * Sets the writable flag; returns the previous state. `false` closes the queue: every waiting
   * getter (the queue is empty, or they would not wait) and every waiting putter rejects with
   * ReadOnly; items already in stay readable. `true` reopens it.
   */
  setWritable(state: boolean): boolean {
    if (typeof state !== 'boolean') state = Boolean(state);
    const previous = this.#writable;
    this.#writable = state;
    if (!state && previous) {
      for (const w of this.#getters.clear()) w.reject(new ReadOnly('the queue is closed and empty'));
      for (const w of this.#putters.clear()) w.reject(new ReadOnly('the queue was closed while this put waited'));
    }
    return previous;
  }

  /** Appends without waiting: false when full; throws ReadOnly when not writable. */
  tryPut(item: T): boolean {
    if (!this.#writable) throw new ReadOnly('the queue is closed');
    const getter = this.#getters.shift();
    if (getter !== undefined) {
      getter.resolve(item); // the queue is empty: hand the item straight to the oldest getter
      return true;
    }
    if (this.maxsize > 0 && this.#items.length >= this.maxsize) return false;
    this.#items.push(item);
    return true;
  }

  /**
   * Appends `item`, waiting while the queue is full (FIFO among putters). Rejects with ReadOnly
   * when the queue is (or gets) closed, TimeoutError when `timeout` elapses or `block` is false
   * and the queue is full, AbortError when `signal` aborts.
   */
  put(item: T, options?: WaitOptions): Promise<void> {
    let wait;
    try {
      wait = parseWait('options', options);
    } catch (err) {
      return Promise.reject(err);
    }
    return this._put(item, wait.timeout, wait.signal);
  }

  /** @internal put() with validated options (timeout -1: forever). */
  _put(item: T, timeout: number, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return park(this.#putters, item, 0, signal, () => null);
    try {
      if (this.#putters.length === 0 && this.tryPut(item)) return Promise.resolve();
      if (!this.#writable) throw new ReadOnly('the queue is closed');
    } catch (err) {
      return Promise.reject(err);
    }
    if (timeout === 0) return Promise.reject(new TimeoutError('the queue is full'));
    return park(this.#putters, item, timeout, signal, () => new TimeoutError('put timed out: the queue is full'));
  }

  /**
   * Removes the oldest item without waiting: undefined when empty and writable; throws ReadOnly
   * when closed and empty (as ShmQueue.tryGet once ended and drained).
   */
  tryGet(): T | undefined {
    if (this.#items.length > 0) {
      const v = this.#items.shift() as T;
      this.#admit();
      return v;
    }
    if (!this.#writable) throw new ReadOnly('the queue is closed and empty');
    return undefined;
  }

  /** Moves up to `max` items (>= 1) to the end of `out` without waiting; never throws. */
  takeInto(out: T[], max: number): number {
    const n = this.#items.takeInto(out, max);
    if (n > 0) this.#admit();
    return n;
  }

  /**
   * Removes the oldest item, waiting (FIFO among getters) while the queue is empty and writable.
   * Rejects with ReadOnly when it is (or gets) closed and empty, TimeoutError when `timeout`
   * elapses or `block` is false and it is empty, AbortError when `signal` aborts.
   */
  get(options?: WaitOptions): Promise<T> {
    let wait;
    try {
      wait = parseWait('options', options);
    } catch (err) {
      return Promise.reject(err);
    }
    return this._get(wait.timeout, wait.signal);
  }

  /** @internal get() with validated options (timeout -1: forever). */
  _get(timeout: number, signal: AbortSignal | undefined): Promise<T> {
    if (signal?.aborted) return park(this.#getters, undefined, 0, signal, () => null);
    if (this.#items.length > 0) {
      const v = this.#items.shift() as T;
      this.#admit();
      return Promise.resolve(v);
    }
    if (!this.#writable) return Promise.reject(new ReadOnly('the queue is closed and empty'));
    if (timeout === 0) return Promise.reject(new TimeoutError('the queue is empty'));
    return park(this.#getters, undefined, timeout, signal, () => new TimeoutError('get timed out: the queue is empty'));
  }

  /** Waiting putters (diagnostics). */
  get putWaiters(): number {
    return this.#putters.length;
  }
  /** Waiting getters (diagnostics). */
  get getWaiters(): number {
    return this.#getters.length;
  }

  /** Space was freed: moves the items of the oldest waiting putters in, in their order. */
  #admit(): void {
    while (this.#putters.length > 0 && (this.maxsize === 0 || this.#items.length < this.maxsize)) {
      const w = this.#putters.shift()!;
      this.#items.push(w.data);
      w.resolve();
    }
  }
}
