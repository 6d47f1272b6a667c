/**
 * SyncQueue (seed `async.util.SyncQueue`): an unlocked FIFO that never waits, behind
 * SerialChannel. Unlike the seed, the writable flag works (the seed's `set_writable` was a
 * no-op and `writable()` always True, so a SerialChannel could not be closed - Decision 12):
 * `put` on a closed queue throws ReadOnly, `get` on a closed and empty one throws ReadOnly.
 * Unbounded. JS thread only.
 */
import { ReadOnly } from '../errors';
import { Fifo } from './fifo';

export class SyncQueue<T = unknown> {
  readonly #items = new Fifo<T>();
  #writable = true;

  qsize(): number {
    return this.#items.length;
  }
  empty(): boolean {
    return this.#items.length === 0;
  }
  writable(): boolean {
    return this.#writable;
  }
  /** Sets the writable flag; returns the previous state. */
  setWritable(state: boolean): boolean {
    const previous = this.#writable;
    this.#writable = Boolean(state);
    return previous;
  }

  /** Appends (never waits); throws ReadOnly when not writable. */
  put(item: T): void {
    if (!this.#writable) throw new ReadOnly('the queue is closed');
    this.#items.push(item);
  }
  /** As put(); always true (unbounded). */
  tryPut(item: T): boolean {
    this.put(item);
    return true;
  }

  /** The oldest item; undefined when empty and writable; throws ReadOnly when closed and empty. */
  get(): T | undefined {
    if (this.#items.length > 0) return this.#items.shift();
    if (!this.#writable) throw new ReadOnly('the queue is closed and empty');
    return undefined;
  }
  /** Same as get() (never waits). */
  tryGet(): T | undefined {
    return this.get();
  }
  /** Moves up to `max` items to the end of `out`; never throws. */
  takeInto(out: T[], max: number): number {
    return this.#items.takeInto(out, max);
  }
}
