/**
 * A first-in first-out list with O(1) amortised push and shift (an array and a head index,
 * compacted when the dead prefix dominates). In-process only; JS thread only.
 * Invariant: the live items are `#a[#head .. #a.length)`.
 */
export class Fifo<T> {
  #a: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#a.length - this.#head;
  }

  push(item: T): void {
    this.#a.push(item);
  }

  /** The first item (undefined when empty). */
  peek(): T | undefined {
    return this.#head < this.#a.length ? this.#a[this.#head] : undefined;
  }

  /** Removes and returns the first item (undefined when empty). */
  shift(): T | undefined {
    const a = this.#a;
    if (this.#head >= a.length) return undefined;
    const v = a[this.#head];
    a[this.#head++] = undefined;
    this.#compact();
    return v;
  }

  /** Moves up to `max` items, in order, to the end of `out`; returns how many moved. */
  takeInto(out: T[], max: number): number {
    const a = this.#a;
    const n = Math.min(max, a.length - this.#head);
    if (n <= 0) return 0;
    if (this.#head === 0 && n === a.length) {
      // Everything: hand the items over without a per-item copy into the dead prefix.
      for (let i = 0; i < n; i++) out.push(a[i] as T);
      this.#a = [];
      return n;
    }
    for (let i = 0; i < n; i++) {
      out.push(a[this.#head] as T);
      a[this.#head++] = undefined;
    }
    this.#compact();
    return n;
  }

  /** Removes `item` wherever it is (a cancelled waiter); O(n). Returns whether it was there. */
  remove(item: T): boolean {
    const i = this.#a.indexOf(item, this.#head);
    if (i < 0) return false;
    this.#a.splice(i, 1);
    return true;
  }

  /** Removes and returns every item. */
  clear(): T[] {
    const out = this.#a.slice(this.#head) as T[];
    this.#a = [];
    this.#head = 0;
    return out;
  }

  #compact(): void {
    const a = this.#a;
    if (this.#head === a.length) {
      this.#a = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= a.length) {
      this.#a = a.slice(this.#head);
      this.#head = 0;
    }
  }
}
