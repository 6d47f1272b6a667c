/**
 * Channel and SerialChannel (seed `async.channel`): the device between a ChannelWriter and its
 * ChannelReaders. `Channel` holds an AsyncQueue (in-process, promise waits, bounded `maxsize`
 * honoured) or, with `shared`, a queue other threads and processes reach (shared-backend.ts).
 * `SerialChannel` holds a SyncQueue: it never waits (reads return what is there), is the fastest,
 * and - unlike the seed - its close() works (Decision 12).
 *
 * The endpoints call the methods below; user code normally goes through mkchannel() and the
 * endpoints. Runs on the JS thread that owns the channel object.
 */
import { ClosedError, ReadOnly, TimeoutError } from '../errors';
import { AsyncQueue } from '../async-util/async-queue';
import { SyncQueue } from '../async-util/sync-queue';
import type { ParsedWait } from '../async-util/wait-options';
import { optionsObject, rejectUnknownOptions, typeError, valueError } from '../validate';
import { kEnded, kTimedOut, readByRules, type RuleSource, type WaitOutcome } from './read-rules';
import type { Registration } from './writer-watch';
import { isHandleRef } from '../wire/handle-ref';
import { SharedBackend, parseMaxsize, type SharedOption, type Maxsize } from './shared-backend';

export interface ChannelOptions<T = unknown> {
  /**
   * Most items held at once (0: unbounded, the default); a write waits while the channel is
   * full. Shared channels also take `{ bytes: n }` (the ring's capacity).
   */
  maxsize?: Maxsize;
  /**
   * Makes the channel reachable from other worker threads and processes: `true` (a new
   * anonymous queue), a queue name, `{ name, capacity, codec, ... }` (ShmQueue options), a
   * ShmQueue, or any queue with its API.
   */
  shared?: SharedOption<T>;
}

const kNoRegistration: Registration = Object.freeze({ unregister: () => {}, registered: Promise.resolve() });

/** The queue shape both local channels use. */
type LocalQueue<T> = AsyncQueue<T> | SyncQueue<T>;

export class Channel<T = unknown> implements RuleSource<T> {
  /** Queue class of an in-process channel (seed `QueueCls`). */
  static readonly QueueCls: typeof AsyncQueue | typeof SyncQueue = AsyncQueue;
  /** The queue: an AsyncQueue / SyncQueue, or the shared queue. */
  readonly queue: LocalQueue<T> | NonNullable<SharedBackend<T>['queue']>;
  /** @internal shared backend, or null in process. */
  readonly _shared: SharedBackend<T> | null;
  readonly #local: LocalQueue<T> | null;
  readonly #waits: boolean;
  #refs = 0;

  constructor(options?: ChannelOptions) {
    const opts = optionsObject('options', options);
    rejectUnknownOptions('options', opts, ['maxsize', 'shared']);
    const cls = (this.constructor as typeof Channel).QueueCls;
    if (opts.shared !== undefined && opts.shared !== false) {
      if (cls === SyncQueue) throw valueError('options.shared', 'unset on a SerialChannel (use Channel)', opts.shared);
      this._shared =
        opts.shared instanceof SharedBackend
          ? (opts.shared as SharedBackend<T>)
          : new SharedBackend<T>(opts.shared as SharedOption<T>, parseMaxsize(opts.maxsize, true));
      this.queue = this._shared.queue;
      this.#local = null;
      this.#waits = true;
      return;
    }
    const maxsize = parseMaxsize(opts.maxsize, false) as number;
    this._shared = null;
    if (cls === SyncQueue) {
      // Bounded SerialChannel: the items sit in an AsyncQueue (writes wait for room, FIFO), but
      // reads still never wait (take what is there). Unbounded: the plain SyncQueue, fastest.
      this.#local = maxsize > 0 ? new AsyncQueue<T>(maxsize) : new SyncQueue<T>();
      this.#waits = false;
    } else if (cls === AsyncQueue) {
      this.#local = new AsyncQueue<T>(maxsize);
      this.#waits = true;
    } else {
      throw typeError('QueueCls', 'AsyncQueue or SyncQueue', cls);
    }
    this.queue = this.#local;
  }

  /** True when other threads and processes can reach this channel. */
  get shared(): boolean {
    return this._shared !== null;
  }

  // ---- writer side ---------------------------------------------------------------------------

  /** @internal Writes one item (validated options). */
  put(item: T, wait: ParsedWait): Promise<void> {
    if (this._shared !== null) return this._shared.put(item, wait);
    const q = this.#local!;
    if (q instanceof AsyncQueue) return q._put(item, wait.timeout, wait.signal); // bounded SerialChannel too
    try {
      q.put(item);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * @internal Writes `items` in order, waiting while full; a timeout/abort error carries
   * `written` (how many went in).
   */
  putMany(items: readonly T[], wait: ParsedWait): Promise<void> {
    if (this._shared !== null) return this._shared.putMany(items, wait);
    return putManyLocal(this.#local!, items, wait);
  }

  /** @internal Writes the prefix of `items` that fits now; returns its length. */
  tryPutMany(items: readonly T[]): number {
    if (this._shared !== null) return this._shared.tryPutMany(items);
    const q = this.#local!;
    let i = 0;
    while (i < items.length && q.tryPut(items[i])) i++;
    return i;
  }

  /** @internal Writes without waiting: false when full; throws ReadOnly when closed. */
  tryPut(item: T): boolean {
    if (this._shared !== null) return this._shared.tryPut(item);
    return this.#local!.tryPut(item);
  }

  /** Closes the stream (idempotent): writes fail with ReadOnly, readers drain then get []. */
  close(): void {
    if (this._shared !== null) this._shared.end();
    else this.#local!.setWritable(false);
  }

  closed(): boolean {
    if (this._shared !== null) return this._shared.ended();
    return !this.#local!.writable();
  }

  /** Items in the channel now. */
  size(): number {
    if (this._shared !== null) return this._shared.size();
    return this.#local!.qsize();
  }

  // ---- reader side ---------------------------------------------------------------------------

  /** @internal The read rules (validated arguments). */
  read(count: number, wait: ParsedWait): Promise<T[]> {
    if (this._shared !== null) return this._shared.read(count, wait);
    if (!this.#waits) {
      const out: T[] = [];
      this.#local!.takeInto(out, count < 1 ? 2 ** 31 - 1 : count);
      return Promise.resolve(out);
    }
    return readByRules(this, count, wait.block, wait.timeout, wait.signal);
  }

  /** @internal Synchronous read (shared channels only: Decision 14). */
  readSync(count: number, block: boolean, timeout: number): T[] {
    if (this._shared === null) {
      throw new TypeError('readSync() exists only on shared channels (another thread or process can write)');
    }
    return this._shared.readSync(count, block, timeout);
  }

  /** @internal RuleSource */
  take(out: T[], max: number): void {
    this.#local!.takeInto(out, max);
  }
  /** @internal RuleSource */
  isClosed(): boolean {
    return !this.#local!.writable();
  }
  /** @internal RuleSource */
  async wait(out: T[], _max: number, timeout: number, signal: AbortSignal | undefined): Promise<WaitOutcome> {
    try {
      out.push(await (this.#local as AsyncQueue<T>)._get(timeout, signal));
      return undefined;
    } catch (err) {
      if (err instanceof TimeoutError) return kTimedOut;
      if (err instanceof ReadOnly) return kEnded;
      throw err;
    }
  }

  /** @internal True when reads may wait (not a SerialChannel). */
  get _waits(): boolean {
    return this.#waits;
  }

  /** @internal A writer endpoint opens: registers it for the writer liveness watch. */
  _registerWriter(): Registration {
    return this._shared === null ? kNoRegistration : this._shared.registerWriter();
  }

  /** True when a read saw a writer of this shared channel die and ended the stream. */
  get writerDied(): boolean {
    return this._shared?.writerDied ?? false;
  }

  /** @internal An endpoint starts using this channel. */
  _retain(): void {
    this.#refs++;
  }

  /** @internal An endpoint is done with this channel; the last one releases its queue handles. */
  _releaseRef(): void {
    if (this.#refs > 0 && --this.#refs === 0) this._shared?.release();
  }

  /** @internal The reference of an endpoint of this channel (shared channels only). */
  _refFor(type: string): unknown {
    const b = this._shared;
    if (b === null) {
      throw new TypeError(
        `a ${type} of an in-process channel cannot cross threads or processes: use mkchannel({ shared })`,
      );
    }
    if (b.released) throw new ClosedError(`this ${type} is closed`);
    const name = typeof b.queue.name === 'string' ? b.queue.name : '';
    // Nested references (not live handles): the receiver opens fresh handles for its endpoint.
    const refOf = (h: { toJSON?(): unknown } | null | undefined): unknown =>
      h === null || h === undefined ? null : typeof h.toJSON === 'function' ? h.toJSON() : h;
    const queue = refOf(b.queue);
    if (!isHandleRef(queue)) {
      throw new TypeError(`this ${type}'s queue cannot travel (its toJSON() gives no handle reference)`);
    }
    // The writer lock travels as a handle reference (its hand-off lease protects it in transit),
    // plus its lifetime: a receiver that finds it gone re-creates it (handles.ts openWriters).
    const writers = b.watch === null ? null : { ...b.watch.lock.toJSON(), lifetime: b.watch.lock.lifetime };
    return { $shmsync: type, name, queue, credits: refOf(b.credits), writers };
  }
}

/** putMany of an in-process queue: synchronous while there is room, then waits item by item. */
async function putManyLocal<T>(q: LocalQueue<T>, items: readonly T[], wait: ParsedWait): Promise<void> {
  let i = 0;
  try {
    if (wait.signal?.aborted !== true) while (i < items.length && q.tryPut(items[i])) i++;
    for (; i < items.length; i++) await (q as AsyncQueue<T>)._put(items[i], wait.timeout, wait.signal);
  } catch (err) {
    if (typeof err === 'object' && err !== null && Object.isExtensible(err)) {
      Object.defineProperty(err, 'written', { value: i, enumerable: true, configurable: true });
    }
    throw err;
  }
}

/**
 * A faster Channel for one JS thread (seed: "sacrificed thread-safety for performance"): a
 * SyncQueue underneath, so reads never wait (they return what is there, [] when empty).
 * `maxsize` is honoured: a write waits for room (a read frees it). close() works (the seed's
 * did nothing).
 */
export class SerialChannel<T = unknown> extends Channel<T> {
  static override readonly QueueCls: typeof AsyncQueue | typeof SyncQueue = SyncQueue;
}
