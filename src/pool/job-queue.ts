/**
 * The pool's queue of work for its workers (the seed's `TaskQueueCls`): FIFO, unbounded, with an
 * awaitable take that its taker can be woken from (a worker told to stop). One JS thread (the
 * pool's) puts and takes; workers are async loops on it.
 *
 * An item may stand for several pieces (a pool job is N chunks of one task): `split` gives the
 * piece a take returns and what stays at the head of the queue. Pieces are handed out in exactly
 * the order a queue of single pieces would (all chunks of one job before the next job): a
 * worker that waits for the input of a later job never holds a chunk that the earlier job's
 * pieces, still queued, would have produced.
 */
export type Split<T> = (item: T) => [T, T | undefined];

export class JobQueue<T> {
  #items: T[] = [];
  #head = 0;
  readonly #takers: Array<(item: T) => void> = [];
  readonly #split: Split<T> | undefined;

  constructor(split?: Split<T>) {
    this.#split = split;
  }

  /** Number of queued items (a split item counts once). */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Appends `item`, handing pieces to the waiting takers, longest-waiting first. */
  put(item: T): void {
    this.#items.push(item);
    while (this.#takers.length > 0 && this.#head < this.#items.length) {
      const taker = this.#takers.shift() as (item: T) => void;
      taker(this.#next());
    }
  }

  /** The first piece of the oldest item (the queue is not empty). */
  #next(): T {
    const item = this.#items[this.#head];
    const [piece, rest] = this.#split === undefined ? [item, undefined] : this.#split(item);
    if (rest !== undefined) {
      this.#items[this.#head] = rest;
      return piece;
    }
    this.#head += 1;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    }
    return piece;
  }

  /**
   * The oldest piece, waiting for one if the queue is empty. When it waits, `onWait` gets a
   * function that ends this wait with a value of the caller's choice (no-op once a piece was
   * handed over).
   */
  take(onWait?: (cancel: (value: T) => void) => void): Promise<T> | T {
    if (this.#head < this.#items.length) return this.#next();
    return new Promise<T>((resolve) => {
      this.#takers.push(resolve);
      onWait?.((value) => {
        const at = this.#takers.indexOf(resolve);
        if (at < 0) return;
        this.#takers.splice(at, 1);
        resolve(value);
      });
    });
  }

  /** Removes and returns every queued item. */
  drain(): T[] {
    const out = this.#items.slice(this.#head);
    this.#items = [];
    this.#head = 0;
    return out;
  }
}
