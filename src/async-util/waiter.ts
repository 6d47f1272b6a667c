/**
 * One parked promise of an in-process wait (AsyncQueue get/put, HSCondition wait) with its
 * timeout and AbortSignal. The owner keeps waiters in a Fifo and settles the first ones; a
 * timeout or an abort removes the waiter from that Fifo and rejects it. Exactly one of
 * resolve/reject/timeout/abort wins (`done`). JS thread only.
 */
import { abortErrorFor } from '../validate';
import { setLongTimeout, type LongTimer } from '../timer';
import type { Fifo } from './fifo';

export class Waiter<V, D = unknown> {
  done = false;
  /** What the waiter brings (a put's item). */
  readonly data: D;
  #resolve: (v: V) => void;
  #reject: (e: unknown) => void;
  #timer: LongTimer | undefined;
  #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;

  constructor(data: D, resolve: (v: V) => void, reject: (e: unknown) => void) {
    this.data = data;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  resolve(v: V): void {
    if (this.done) return;
    this.#finish();
    this.#resolve(v);
  }

  reject(e: unknown): void {
    if (this.done) return;
    this.#finish();
    this.#reject(e);
  }

  /** Arms the timeout (ms, < 0: none) and the signal; each removes the waiter from `list`. */
  arm(list: Fifo<Waiter<V, D>>, timeout: number, signal: AbortSignal | undefined, onTimeout: () => unknown): void {
    if (timeout >= 0) {
      this.#timer = setLongTimeout(() => {
        list.remove(this);
        this.reject(onTimeout());
      }, timeout);
    }
    if (signal !== undefined) {
      this.#signal = signal;
      this.#onAbort = () => {
        list.remove(this);
        this.reject(abortErrorFor(signal));
      };
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
  }

  #finish(): void {
    this.done = true;
    this.#timer?.clear();
    if (this.#onAbort !== undefined) this.#signal!.removeEventListener('abort', this.#onAbort);
  }
}

/**
 * Parks a new waiter at the end of `list` and returns its promise. The caller has checked that
 * the wait is needed; an already aborted signal rejects at once.
 */
export function park<V, D>(
  list: Fifo<Waiter<V, D>>,
  data: D,
  timeout: number,
  signal: AbortSignal | undefined,
  onTimeout: () => unknown,
): Promise<V> {
  if (signal?.aborted) return Promise.reject(abortErrorFor(signal));
  return new Promise<V>((resolve, reject) => {
    const w = new Waiter<V, D>(data, resolve, reject);
    list.push(w);
    w.arm(list, timeout, signal, onTimeout);
  });
}
