/**
 * What the pool layer needs from the channel layer, in one place: the reader/writer shapes a
 * task reads from and writes to, and the constructors of its output channels.
 *
 * INTERIM: the channel layer (src/channel/) is being written concurrently; until it is merged
 * this file carries a minimal single-thread channel with the same read rules (SEMANTICS.md §2.3)
 * so the pool can be built and tested. It is replaced by imports from ../channel after the merge.
 */
import { ReadOnly } from '../errors';

/** Options of a read (SEMANTICS.md §2.3). */
export interface ReadOptions {
  block?: boolean;
  timeout?: number;
  signal?: AbortSignal;
}

/** The read side a task reads from (a channel reader, an iterator reader, a pool reader's bypass). */
export interface ItemReader<T = unknown> {
  read(count?: number, options?: ReadOptions): Promise<T[]> | T[];
}

/** The write side a task writes its results to. */
export interface ItemWriter<T = unknown> {
  write(item: T): unknown;
  close(): void;
  closed(): boolean;
}

export { ReadOnly };

/** Whether `err` is the "channel closed for writing" error (another chunk of the task failed). */
export function isReadOnly(err: unknown): boolean {
  return err instanceof ReadOnly;
}

class LocalChannel<T> {
  items: T[] = [];
  head = 0;
  closed = false;
  waiters: Array<() => void> = [];

  get length(): number {
    return this.items.length - this.head;
  }

  take(max: number, out: T[]): void {
    const n = Math.min(max, this.length);
    for (let i = 0; i < n; i += 1) out.push(this.items[this.head + i]);
    this.head += n;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  wake(all: boolean): void {
    const ws = all ? this.waiters.splice(0) : this.waiters.splice(0, 1);
    for (const w of ws) w();
  }
}

class LocalWriter<T> implements ItemWriter<T> {
  constructor(readonly channel: LocalChannel<T>) {}
  write(item: T): void {
    if (this.channel.closed) throw new ReadOnly('the channel is closed');
    this.channel.items.push(item);
    if (this.channel.waiters.length > 0) this.channel.wake(false);
  }
  close(): void {
    if (this.channel.closed) return;
    this.channel.closed = true;
    this.channel.wake(true);
  }
  closed(): boolean {
    return this.channel.closed;
  }
  size(): number {
    return this.channel.length;
  }
}

class LocalReader<T> implements ItemReader<T> {
  constructor(readonly channel: LocalChannel<T>) {}
  async read(count = 0, options: ReadOptions = {}): Promise<T[]> {
    const ch = this.channel;
    const out: T[] = [];
    const unbounded = count < 1;
    if (options.block === false) {
      ch.take(unbounded ? Infinity : count, out);
      return out;
    }
    for (;;) {
      ch.take(unbounded ? Infinity : count - out.length, out);
      if (!unbounded && out.length >= count) return out;
      if (ch.closed) return out;
      const woke = await new Promise<boolean>((resolve) => {
        let timer: NodeJS.Timeout | undefined;
        const waiter = (): void => {
          if (timer) clearTimeout(timer);
          resolve(true);
        };
        ch.waiters.push(waiter);
        if (options.timeout !== undefined) {
          timer = setTimeout(() => {
            const at = ch.waiters.indexOf(waiter);
            if (at >= 0) ch.waiters.splice(at, 1);
            resolve(false);
          }, options.timeout);
        }
      });
      if (!woke) {
        // Per-item timeout: on an open channel return what was collected.
        ch.take(unbounded ? Infinity : count - out.length, out);
        return out;
      }
    }
  }
}

/** A new output channel: `[writer, reader]`. `threaded` picks the thread-safe kind (size > 0). */
export function newChannel<T>(_threaded: boolean): [ItemWriter<T>, ItemReader<T>] {
  const ch = new LocalChannel<T>();
  return [new LocalWriter(ch), new LocalReader(ch)];
}

/** A reader of the channel behind `writer` (a task created with its own writer). */
export function readerFor<T>(writer: ItemWriter<T>): ItemReader<T> {
  if (writer instanceof LocalWriter) return new LocalReader(writer.channel as LocalChannel<T>);
  throw new TypeError('the task writer must be a channel writer (mkchannel)');
}

/** A never-blocking reader over an iterator (seed IteratorReader). */
export function iteratorReader<T>(iterator: Iterator<T>): ItemReader<T> {
  if (iterator === null || typeof iterator !== 'object' || typeof (iterator as Iterator<T>).next !== 'function') {
    throw new TypeError('IteratorTask needs an iterator (an object with next()), e.g. list[Symbol.iterator]()');
  }
  let empty = false;
  return {
    read(count = 0): T[] {
      const out: T[] = [];
      if (empty) return out;
      while (count < 1 || out.length < count) {
        const r = iterator.next();
        if (r.done) {
          empty = true;
          break;
        }
        out.push(r.value);
      }
      if (count < 1) empty = true;
      return out;
    },
  };
}
