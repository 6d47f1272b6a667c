/**
 * IteratorReader (seed `async.channel.IteratorReader`): a Reader over an iterator. Reads never
 * wait; `block` and `timeout` are accepted and ignored, as upstream. `read(0)` takes every
 * remaining item; `read(n)` up to n; once the iterator is done, [] for ever.
 * Accepts sync iterators and (a shmsync extension) async iterators: anything with a `next()`
 * method. An iterable that is not an iterator (an array, a Set) is rejected with a coded
 * TypeError, as the seed rejected a list (pass `array[Symbol.iterator]()` or `array.values()`).
 * Concurrent reads of one IteratorReader are serialised (the seed's lock). JS thread only.
 */
import { parseWait, type WaitOptions } from '../async-util/wait-options';
import { typeError } from '../validate';
import { Reader, validateCount } from './reader';

type AnyIterator<T> = Iterator<T> | AsyncIterator<T>;

export class IteratorReader<T = unknown> extends Reader<T> {
  readonly iterator: AnyIterator<T>;
  #empty = false;
  /** Tail of the chain that serialises reads over an async iterator. */
  #tail: Promise<unknown> = Promise.resolve();

  constructor(iterator: AnyIterator<T>) {
    super();
    if (typeof iterator !== 'object' || iterator === null || typeof (iterator as Iterator<T>).next !== 'function') {
      const hint =
        iterator !== null && typeof iterator === 'object' && Symbol.iterator in (iterator as object)
          ? ' (an iterable is not an iterator: pass value[Symbol.iterator]())'
          : '';
      throw typeError('iterator', `an iterator (an object with a next() method)${hint}`, iterator);
    }
    this.iterator = iterator;
  }

  /** True once the iterator is exhausted. */
  get empty(): boolean {
    return this.#empty;
  }

  read(count?: number, options?: WaitOptions): Promise<T[]> {
    let n: number;
    try {
      n = validateCount(count);
      if (options !== undefined) parseWait('options', options); // validated, then ignored
    } catch (err) {
      return Promise.reject(err);
    }
    const run = this.#tail.then(() => this.#take(n));
    this.#tail = run.catch(() => {});
    return run;
  }

  async #take(n: number): Promise<T[]> {
    const out: T[] = [];
    if (this.#empty) return out;
    const want = n < 1 ? Infinity : n;
    const it = this.iterator;
    while (out.length < want) {
      let r = it.next();
      if (r !== null && typeof (r as Promise<IteratorResult<T>>).then === 'function') r = await r;
      const res = r as IteratorResult<T>;
      if (res.done) {
        this.#empty = true;
        break;
      }
      out.push(res.value);
    }
    if (n < 1) this.#empty = true;
    return out;
  }

  /** Ends the iteration (calls the iterator's return(), if any); later reads return []. */
  override close(): void {
    if (this.#empty) return;
    this.#empty = true;
    try {
      const r = (this.iterator as Iterator<T>).return?.();
      if (r !== undefined && typeof (r as unknown as Promise<unknown>).catch === 'function') {
        (r as unknown as Promise<unknown>).catch(() => {});
      }
    } catch {
      // a throwing return() changes nothing here: the reader is closed
    }
  }
}
