/**
 * The read ends (seed `Reader`, `ChannelReader`, `CallbackReaderMixin`, `CallbackChannelReader`).
 * `read(count = 0, { block = true, timeout, signal })` returns a Promise of an item array with
 * exactly the upstream rules (read-rules.ts); `for await` reads one item per step and stops on
 * []. `close()` / `Symbol.dispose` releases the reader (Decision 13): its pending reads reject
 * with ClosedError, later reads throw ClosedError; the channel itself stays open for the others.
 * Runs on the JS thread holding the reader.
 */
import { setMaxListeners } from 'node:events';
import { ClosedError } from '../errors';
import { parseWait, kForever, type WaitOptions, type ParsedWait } from '../async-util/wait-options';
import {
  validateFunction,
  validateInteger,
  validateTimeout,
  optionsObject,
  rejectUnknownOptions,
  validateBoolean,
} from '../validate';
import type { Channel } from './channel';
import { kEndpoints } from './endpoint-finalizer';
import { toReadable, toReadableStream, type ToReadableOptions } from './interop-readable';
import type { Readable } from 'node:stream';

export type { WaitOptions } from '../async-util/wait-options';

/** Validates `count` (an integer >= 0; 0 and negatives of the seed mean "all": only 0 here). */
export function validateCount(count: unknown): number {
  if (count === undefined) return 0;
  validateInteger('count', count, 0, 2 ** 31 - 1);
  return count;
}

/** Base class of read ends (seed `Reader`). */
export abstract class Reader<T = unknown> {
  /** Reads items by the upstream rules; see docs/channels.md. */
  abstract read(count?: number, options?: WaitOptions): Promise<T[]>;

  /** Releases the reader (Decision 13). Idempotent. */
  close(): void {}

  [Symbol.dispose](): void {
    this.close();
  }

  /** Each step is `read(1)`; iteration stops when it returns []. */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (;;) {
      const items = await this.read(1);
      if (items.length === 0) return;
      yield items[0];
    }
  }

  /** A Node Readable in object mode over this reader, reading only as fast as it is consumed. */
  toReadable(options?: ToReadableOptions): Readable {
    return toReadable(this, options);
  }
  /** A web ReadableStream over this reader (pull-driven: backpressure). */
  toReadableStream(options?: ToReadableOptions): ReadableStream<T> {
    return toReadableStream(this, options);
  }
}

/** The read end of a channel. Safe to share between async tasks of its thread. */
export class ChannelReader<T = unknown> extends Reader<T> {
  readonly channel: Channel<T>;
  #closed = false;
  /** Aborted by close(): withdraws this reader's pending waits. */
  #closing: AbortController | undefined;

  constructor(channel: Channel<T>) {
    super();
    if (typeof channel !== 'object' || channel === null || typeof (channel as Channel<T>).read !== 'function') {
      throw new TypeError('ChannelReader needs a Channel');
    }
    this.channel = channel;
    channel._retain();
    // Safety net (Decision 13): a reader collected without close() is released.
    kEndpoints.register(this, () => channel._releaseRef(), this);
  }

  /**
   * Reads up to `count` items (0: until the channel is closed). Never rejects because the
   * channel is closed or empty: it returns what it got ([] when drained). Rejects with
   * AbortError (its `items`: what this read had taken) when `signal` aborts, ClosedError when
   * this reader is closed.
   */
  read(count?: number, options?: WaitOptions): Promise<T[]> {
    let n: number;
    let wait: ParsedWait;
    try {
      n = validateCount(count);
      wait = options === undefined ? kForever : parseWait('options', options);
      if (this.#closed) throw new ClosedError('this reader is closed');
    } catch (err) {
      return Promise.reject(err);
    }
    if (!wait.block || !this.channel._waits) return this.channel.read(n, wait);
    return this.#readWaiting(n, wait);
  }

  async #readWaiting(n: number, wait: ParsedWait): Promise<T[]> {
    if (this.#closing === undefined) {
      this.#closing = new AbortController();
      // One listener per pending read: many concurrent reads are legitimate, not a leak.
      setMaxListeners(0, this.#closing.signal);
    }
    const own = this.#closing.signal;
    const either = wait.signal === undefined ? null : anySignal(wait.signal, own);
    const signal = either === null ? own : either.signal;
    try {
      return await this.channel.read(n, { block: true, timeout: wait.timeout, signal });
    } catch (err) {
      if (own.aborted) {
        const closed = new ClosedError('this reader was closed while reading', { cause: err });
        const items = (err as { items?: unknown }).items;
        if (items !== undefined) Object.defineProperty(closed, 'items', { value: items, enumerable: true });
        throw closed;
      }
      throw err;
    } finally {
      either?.dispose();
    }
  }

  /**
   * Synchronous read, shared channels only (Decision 14): blocks this thread (use it in workers
   * and child processes). Same rules as read(); no signal.
   */
  readSync(count?: number, options?: { block?: boolean; timeout?: number }): T[] {
    const n = validateCount(count);
    const opts = optionsObject('options', options);
    rejectUnknownOptions('options', opts, ['block', 'timeout'], { blocking: 'block' });
    const block = opts.block ?? true;
    validateBoolean('options.block', block);
    const timeout = validateTimeout('options.timeout', opts.timeout);
    if (this.#closed) throw new ClosedError('this reader is closed');
    return this.channel.readSync(n, block, block ? timeout : 0);
  }

  /** Whether close() ran on this reader. */
  get released(): boolean {
    return this.#closed;
  }

  override close(): void {
    if (this.#closed) return;
    this.#closed = true;
    kEndpoints.unregister(this);
    this.#closing?.abort();
    this.channel._releaseRef();
  }

  /**
   * A reference another thread or process revives into a reader of the same shared channel.
   * Sending copies a reference: this reader keeps working. A closed reader refuses to travel
   * (ClosedError), so it cannot come back to life elsewhere.
   */
  toJSON(): unknown {
    if (this.#closed) throw new ClosedError('this reader was closed: it cannot travel');
    return this.channel._refFor('ChannelReader');
  }
}

/**
 * AbortSignal.any (Node >= 20.3), or the same by hand; `dispose()` (call it when the wait ends)
 * removes the hand-made version's listeners from `a` and `b`, which outlive the wait.
 */
function anySignal(a: AbortSignal, b: AbortSignal): { signal: AbortSignal; dispose: () => void } {
  if (typeof AbortSignal.any === 'function') return { signal: AbortSignal.any([a, b]), dispose: noop };
  const ac = new AbortController();
  const onA = (): void => ac.abort(a.reason);
  const onB = (): void => ac.abort(b.reason);
  if (a.aborted) onA();
  else if (b.aborted) onB();
  else {
    a.addEventListener('abort', onA, { once: true });
    b.addEventListener('abort', onB, { once: true });
  }
  const dispose = (): void => {
    a.removeEventListener('abort', onA);
    b.removeEventListener('abort', onB);
  };
  return { signal: ac.signal, dispose };
}

export type PreReadCallback = (count: number) => unknown;
export type PostReadCallback<T> = (items: T[]) => T[] | Promise<T[]>;
const noop = (): void => {};
const same = <T>(items: T[]): T[] => items;

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as PromiseLike<unknown>).then === 'function';
}

/**
 * A ChannelReader with a pre-read callback `fn(count)` (exceptions reject the read; a returned
 * promise is awaited before reading) and a post-read callback `fn(items)` whose return value
 * (or its promise's) is handed back instead (seed `CallbackChannelReader`).
 */
export class CallbackChannelReader<T = unknown> extends ChannelReader<T> {
  #pre: PreReadCallback | undefined;
  #post: PostReadCallback<T> | undefined;

  /** Installs the pre-read callback (none: a no-op); returns the previous one (undefined first). */
  setPreCb(fn?: PreReadCallback): PreReadCallback | undefined {
    if (fn !== undefined) validateFunction('fn', fn);
    const previous = this.#pre;
    this.#pre = fn ?? noop;
    return previous;
  }

  /** Installs the post-read callback (none: a no-op); returns the previous one (undefined first). */
  setPostCb(fn?: PostReadCallback<T>): PostReadCallback<T> | undefined {
    if (fn !== undefined) validateFunction('fn', fn);
    const previous = this.#post;
    this.#post = fn ?? same;
    return previous;
  }

  override read(count?: number, options?: WaitOptions): Promise<T[]> {
    if (this.#pre === undefined && this.#post === undefined) return super.read(count, options);
    return this.#readWithCallbacks(count, options);
  }

  async #readWithCallbacks(count: number | undefined, options: WaitOptions | undefined): Promise<T[]> {
    const n = validateCount(count);
    if (options !== undefined) parseWait('options', options); // bad options: no callback runs
    if (this.#pre !== undefined) {
      const r = this.#pre(n);
      if (isThenable(r)) await r;
    }
    const items = await super.read(n, options);
    return this.#post === undefined ? items : await this.#post(items);
  }
}
