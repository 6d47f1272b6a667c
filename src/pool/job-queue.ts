/**
 * The pool's queue of work for its workers (the seed's `TaskQueueCls`): FIFO, unbounded, with an
 * awaitable take. One JS thread (the pool's) puts and takes; workers are async loops on it.
 */
export class JobQueue<T> {
  #items: T[] = [];
  #head = 0;
  readonly #takers: Array<(item: T) => void> = [];

  /** Number of queued items. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Appends `item`, handing it to the longest-waiting taker if there is one. */
  put(item: T): void {
    const taker = this.#takers.shift();
    if (taker !== undefined) taker(item);
    else this.#items.push(item);
  }

  /** The oldest item, waiting for one if the queue is empty. */
  take(): Promise<T> | T {
    if (this.#head < this.#items.length) {
      const item = this.#items[this.#head];
      this.#head += 1;
      if (this.#head === this.#items.length) {
        this.#items = [];
        this.#head = 0;
      }
      return item;
    }
    return new Promise<T>((resolve) => this.#takers.push(resolve));
  }

  /** Removes and returns every queued item. */
  drain(): T[] {
    const out = this.#items.slice(this.#head);
    this.#items = [];
    this.#head = 0;
    return out;
  }
}
