/**
 * HSCondition (seed `async.util.HSCondition`): a condition variable for async code. `wait()`
 * parks a promise; `notify(n)` wakes the n oldest waiters (FIFO), `notifyAll()` every one.
 * Timed waits use a timer (the seed polled every 0.2 ms). The lock is the seed's shape: by
 * default a DummyLock (one JS thread needs no mutual exclusion between a check and a wait, as
 * long as no `await` separates them). JS thread only.
 */
import { validateInteger } from '../validate';
import { DummyLock, type LockLike } from './dummy-lock';
import { Fifo } from './fifo';
import { park, type Waiter } from './waiter';
import { parseWait } from './wait-options';

export class HSCondition {
  readonly lock: LockLike;
  readonly #waiters = new Fifo<Waiter<boolean, undefined>>();

  constructor(lock?: LockLike) {
    this.lock = lock ?? new DummyLock();
  }

  acquire(): unknown {
    return this.lock.acquire();
  }
  release(): void {
    this.lock.release();
  }

  /**
   * Waits until notified: resolves true when notified, false when `timeout` (ms) elapsed first;
   * rejects with AbortError when `options.signal` aborts.
   */
  wait(timeout?: number, options?: { signal?: AbortSignal }): Promise<boolean> {
    let parsed;
    try {
      parsed = parseWait('options', { timeout, signal: options?.signal });
    } catch (err) {
      return Promise.reject(err);
    }
    return park(this.#waiters, undefined, parsed.timeout, parsed.signal, () => false).catch((err: unknown) => {
      if (err === false) return false;
      throw err;
    });
  }

  /** Wakes the `n` oldest waiters (default 1); returns how many were woken. */
  notify(n = 1): number {
    validateInteger('n', n, 0, 2 ** 53 - 1);
    let woken = 0;
    while (woken < n) {
      const w = this.#waiters.shift();
      if (w === undefined) break;
      w.resolve(true);
      woken++;
    }
    return woken;
  }

  /** Wakes every waiter; returns how many. (Seed spelling `notify_all`.) */
  notifyAll(): number {
    return this.notify(this.#waiters.length);
  }

  /** Waiters parked now. */
  get waiting(): number {
    return this.#waiters.length;
  }
}
