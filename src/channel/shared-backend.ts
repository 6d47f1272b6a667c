/**
 * The backend of a shared channel: a queue that other worker threads and processes reach (a
 * ShmQueue the channel opens, or any queue with the ShmQueue API), plus - for a bound in items -
 * a second ShmQueue of credits. Same read rules as in process (read-rules.ts), written over the
 * queue's async getMany/get; readSync over getSync (Decision 14).
 *
 * Items bound: the credit queue starts with `maxsize` tokens; a write takes one before it puts,
 * a read gives one back per item taken. A writer or reader killed between the two leaks one
 * credit (the bound gets tighter, never looser). Bytes bound: the ring's own capacity.
 * Runs on the JS thread holding this endpoint (main or worker).
 */
import { AbortError, ClosedError, ReadOnly, TimeoutError } from '../errors';
import { ShmQueue, type ShmQueueOptions } from '../queue/queue';
import type { ParsedWait } from '../async-util/wait-options';
import { optionsObject, rangeError, typeError, validateInteger, valueError } from '../validate';
import { kAll } from './read-rules';
import { WriterWatch, type Registration } from './writer-watch';
import type { RwLock } from '../rwlock/rw-lock';
import {
  assertSharedQueueLike,
  isAbort,
  isEnded,
  isSharedQueueLike,
  isTimeout,
  type SharedQueueLike,
} from './shared-queue';

/** `maxsize`: items (0 = unbounded) or, for shared channels, `{ bytes }` (the ring's capacity). */
export type Maxsize = number | { bytes: number };
export type SharedOption<T = unknown> = true | string | (ShmQueueOptions<T> & { name?: string }) | SharedQueueLike<T>;

const kNoRegistration: Registration = Object.freeze({ unregister: () => {}, registered: Promise.resolve() });
/** Largest batch one getMany asks for. */
const kBatch = 4096;
const kToken = 1;
const noop = (): void => {};

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as PromiseLike<unknown>).then === 'function';
}

export function parseMaxsize(value: unknown, shared: boolean): Maxsize {
  if (value === undefined) return 0;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    if (!shared) throw valueError('options.maxsize', 'a number of items (bytes need a shared channel)', value);
    const bytes = (value as { bytes?: unknown }).bytes;
    validateInteger('options.maxsize.bytes', bytes, 1024, 2 ** 31);
    return { bytes };
  }
  if (typeof value !== 'number') throw typeError('options.maxsize', 'a number of items or { bytes }', value);
  validateInteger('options.maxsize', value, 0, shared ? 2 ** 24 : 2 ** 53 - 1);
  return value;
}

/**
 * A duck-typed queue's ended/timeout errors as this package's classes (ReadOnly, TimeoutError),
 * the original as `cause`; others unchanged.
 */
function normalised(err: unknown): unknown {
  if (isEnded(err) && !(err instanceof ReadOnly && err.constructor === ReadOnly)) {
    return new ReadOnly('the channel is closed', { cause: err });
  }
  if (isTimeout(err)) return new TimeoutError('write timed out: the channel is full', { cause: err });
  return err;
}

/**
 * `e` with `written` = how many of the call's items went in. The queue's own error may carry a
 * fixed (non-configurable) `written` of its last batch - ShmQueue.putMany's does, e.g. when the
 * channel closed between a credit take and the ring write: redefining it threw a TypeError that
 * replaced the coded error. Such an error is replaced by a fresh one of the same code (cause: the
 * queue's). A frozen object (a duck-typed queue's) is thrown as is, never a throw here.
 */
function withWritten(e: unknown, written: number): unknown {
  if (typeof e !== 'object' || e === null || !Object.isExtensible(e)) return e;
  const fixed = Object.getOwnPropertyDescriptor(e, 'written');
  let out = e;
  if (fixed !== undefined && !fixed.configurable) {
    if (fixed.value === written) return e;
    if (isEnded(e)) out = new ReadOnly('the channel is closed', { cause: e });
    else if (isTimeout(e)) out = new TimeoutError('write timed out: the channel is full', { cause: e });
    else if (isAbort(e)) out = new AbortError((e as Error).message, { cause: (e as Error).cause });
    else if ((e as { code?: unknown }).code === 'SHMSYNC_CLOSED')
      out = new ClosedError((e as Error).message, { cause: e });
    else return e;
  }
  Object.defineProperty(out, 'written', { value: written, enumerable: true, configurable: true });
  return out;
}

/** Smallest power of two >= n, at least 1024 (ShmQueue capacities). */
function capacityFor(n: number): number {
  let c = 1024;
  while (c < n) c *= 2;
  return c;
}

function waitOf(wait: ParsedWait): { timeout?: number; signal?: AbortSignal } {
  const t = wait.block ? wait.timeout : 0;
  return { timeout: t < 0 ? undefined : t, signal: wait.signal };
}

export class SharedBackend<T = unknown> {
  readonly queue: SharedQueueLike<T>;
  /** Credits of an items bound (null: unbounded in items). */
  readonly credits: ShmQueue<number> | null;
  /** Whether release() closes the queue handles (the channel opened them). */
  readonly owned: boolean;
  /** Writer liveness (ShmQueue channels only; writer-watch.ts). */
  readonly watch: WriterWatch | null;
  #endedSeen = false;
  #released = false;
  /** Set once the queue's tryPut was seen returning a Promise. */
  #asyncTry = false;

  constructor(
    option: SharedOption<T> | SharedBackend<T>,
    maxsize: Maxsize,
    adopt?: { credits: ShmQueue<number> | null; writers: RwLock | null },
  ) {
    if (adopt !== undefined) {
      assertSharedQueueLike('queue', option);
      this.queue = option;
      this.credits = adopt.credits;
      this.owned = true;
      this.watch = adopt.writers === null ? null : new WriterWatch(adopt.writers);
      return;
    }
    if (isSharedQueueLike(option)) {
      if (maxsize !== 0) {
        throw valueError('options.maxsize', 'unset when `shared` is a queue (bound the queue itself)', maxsize);
      }
      this.queue = option as SharedQueueLike<T>;
      this.credits = null;
      this.owned = false;
      this.watch = option instanceof ShmQueue ? WriterWatch.open(option.name, option.lifetime) : null;
      return;
    }
    let name: string | undefined;
    let qopts: ShmQueueOptions<T> = {};
    if (option === true) name = undefined;
    else if (typeof option === 'string') name = option;
    else if (typeof option === 'object' && option !== null && !Array.isArray(option)) {
      const { name: n, ...rest } = optionsObject('options.shared', option) as ShmQueueOptions<T> & { name?: string };
      name = n;
      qopts = rest;
    } else {
      assertSharedQueueLike('options.shared', option);
    }
    if (typeof maxsize === 'object') {
      if (qopts.capacity !== undefined)
        throw valueError('options.maxsize', 'unset when shared.capacity is given', maxsize);
      qopts = { ...qopts, capacity: capacityFor(maxsize.bytes) };
    }
    const { queue, created } = openQueue<T>(name, qopts);
    // A failure below removes a queue this call created (a persistent name would stay behind).
    const removeOnFailure = created && queue.lifetime === 'persistent' ? queue.name : null;
    // Never throws: the error that made the call fail is the one its caller must see.
    const abandon = (): void => {
      queue.close();
      try {
        if (removeOnFailure !== null) ShmQueue.unlink(removeOnFailure);
      } catch {
        // e.g. EACCES on the directory: the name stays (as if the call had never cleaned up)
      }
    };
    let credits: ShmQueue<number> | null = null;
    let watch: WriterWatch;
    try {
      watch = WriterWatch.open(queue.name, queue.lifetime);
    } catch (err) {
      abandon();
      throw err;
    }
    if (typeof maxsize === 'number' && maxsize > 0) {
      try {
        credits = openCredits(queue.name, maxsize, queue.lifetime);
      } catch (err) {
        watch.close();
        abandon();
        throw err;
      }
    }
    this.queue = queue;
    this.credits = credits;
    this.owned = true;
    this.watch = watch;
  }

  /** Registers a writer endpoint for the liveness watch; returns its unregister function. */
  registerWriter(): Registration {
    return this.watch === null || this.#released ? kNoRegistration : this.watch.register();
  }

  /** True once a read of this endpoint saw a writer die and ended the stream. */
  get writerDied(): boolean {
    return this.watch?.writerDied ?? false;
  }

  async put(item: T, wait: ParsedWait): Promise<void> {
    // Fast path: room now (a credit and ring space) - one synchronous tryPut, no wait machinery.
    // A queue whose tryPut returns a Promise (e.g. a Redis queue) is remembered and goes the
    // put() way from then on.
    if (!this.#asyncTry && typeof this.queue.tryPut === 'function' && wait.signal?.aborted !== true) {
      let r: boolean | PromiseLike<boolean>;
      try {
        r = this.#tryPutRaw(item);
      } catch (err) {
        throw normalised(err);
      }
      if (r === true) return;
      if (r !== false) {
        // Asynchronous tryPut: its outcome is awaited (never dropped).
        try {
          if ((await r) === true) return;
        } catch (err) {
          throw normalised(err);
        }
      }
    }
    await this.putMany([item], wait);
  }

  /**
   * Writes `items` in order: one ring write per batch that fits (ShmQueue.putMany), one credit
   * take per batch (credits.drainSync), waiting (per `wait`) only while the channel is full.
   * On timeout/abort the error's `written` says how many went in (a prefix of `items`).
   */
  async putMany(items: readonly T[], wait: ParsedWait): Promise<void> {
    const o = waitOf(wait);
    const q = this.queue;
    const credits = this.credits;
    const deadline = o.timeout === undefined ? -1 : Date.now() + o.timeout;
    const left = (): number | undefined => (deadline < 0 ? undefined : Math.max(0, deadline - Date.now()));
    let written = 0;
    try {
      while (written < items.length) {
        let n = items.length - written;
        if (credits !== null) {
          // Take as many credits as are free now (one native call), else wait for one.
          let k = this.#takeCredits(n);
          if (k === 0) {
            try {
              await credits.get({ timeout: left(), signal: o.signal });
            } catch (err) {
              if (isEnded(err)) throw new ReadOnly('the channel is closed');
              if (isTimeout(err)) throw new TimeoutError('write timed out: the channel is full');
              throw err;
            }
            k = 1 + this.#takeCredits(n - 1);
          }
          n = k;
        }
        const batch = written === 0 && n === items.length ? items : items.slice(written, written + n);
        let put = 0;
        try {
          if (typeof q.putMany === 'function') {
            await q.putMany(batch as T[], { timeout: left(), signal: o.signal });
          } else {
            for (; put < batch.length; put++) await q.put(batch[put], { timeout: left(), signal: o.signal });
          }
          put = batch.length;
        } catch (err) {
          const w = (err as { written?: unknown }).written;
          if (typeof w === 'number' && Number.isInteger(w) && w >= 0 && w <= batch.length) put = w;
          this.#giveCredits(batch.length - put);
          written += put;
          throw err;
        }
        written += put;
      }
    } catch (err) {
      throw withWritten(normalised(err), written);
    }
  }

  /** Writes what fits now, in order, without waiting; returns how many went in. */
  tryPutMany(items: readonly T[]): number {
    const q = this.queue as SharedQueueLike<T> & { putManySync?: (v: T[], o: object) => number };
    if (typeof q.putManySync !== 'function') {
      let i = 0;
      while (i < items.length && this.tryPut(items[i])) i++;
      return i;
    }
    let n = items.length;
    if (this.credits !== null) n = this.#takeCredits(n);
    if (n === 0) return 0;
    let put: number;
    try {
      put = q.putManySync(n === items.length ? (items as T[]) : items.slice(0, n), { blocking: false });
    } catch (err) {
      this.#giveCredits(n);
      throw normalised(err);
    }
    this.#giveCredits(n - put);
    return put;
  }

  tryPut(item: T): boolean {
    const r = this.#tryPutRaw(item);
    if (typeof r === 'boolean') return r;
    // The queue's tryPut is asynchronous: its outcome cannot be reported synchronously. The
    // put already started: settle it quietly, then refuse (use write()).
    this.#asyncTry = true;
    Promise.resolve(r).then(
      (ok) => {
        if (ok !== true) this.#giveCredits(1);
      },
      () => this.#giveCredits(1),
    );
    throw typeError(
      'shared queue',
      "a queue whose tryPut() is synchronous for tryWrite() (this one's returns a Promise: use write())",
      r,
    );
  }

  /** One credit then one tryPut; a Promise when the queue's tryPut is asynchronous. */
  #tryPutRaw(item: T): boolean | PromiseLike<boolean> {
    const q = this.queue;
    if (typeof q.tryPut !== 'function') throw new TypeError('this shared queue has no tryPut(): use write()');
    const credits = this.credits;
    if (credits !== null && this.#takeCredits(1) === 0) return false;
    let ok: boolean | PromiseLike<boolean> = false;
    try {
      ok = q.tryPut(item) as boolean | PromiseLike<boolean>;
    } finally {
      if (ok === false && credits !== null) this.#giveCredits(1);
    }
    if (typeof ok !== 'boolean' && !isThenable(ok)) {
      if (credits !== null) this.#giveCredits(1);
      throw typeError('shared queue tryPut()', 'a boolean (or a Promise of one)', ok);
    }
    if (typeof ok !== 'boolean') this.#asyncTry = true;
    return ok;
  }

  /** Takes up to `max` free credits without waiting (one native call); returns how many. */
  #takeCredits(max: number): number {
    const credits = this.credits;
    if (credits === null) return max;
    if (max < 1) return 0; // drainSync's max 0 would mean "all"
    try {
      return credits.drainSync(noop, { max: Math.min(max, kBatch) });
    } catch (err) {
      if (isEnded(err)) throw new ReadOnly('the channel is closed');
      throw err;
    }
  }

  async read(count: number, wait: ParsedWait): Promise<T[]> {
    const want = count < 1 ? kAll : count;
    const out: T[] = [];
    const q = this.queue;
    const o = waitOf(wait);
    const stopWatch = wait.block && this.watch !== null ? this.watch.watch(() => this.end()) : null;
    try {
      await this.#readLoop(q, out, want, o, wait.block);
    } finally {
      stopWatch?.();
    }
    return out;
  }

  async #readLoop(
    q: SharedQueueLike<T>,
    out: T[],
    want: number,
    o: { timeout?: number; signal?: AbortSignal },
    block: boolean,
  ): Promise<void> {
    while (out.length < want) {
      const max = Math.min(want - out.length, kBatch);
      let got: T[];
      try {
        got = typeof q.getMany === 'function' ? await q.getMany(max, o) : [await q.get(o)];
      } catch (err) {
        if (isEnded(err)) {
          this.#endedSeen = true;
          break;
        }
        if (isTimeout(err)) break;
        if (isAbort(err)) Object.defineProperty(err, 'items', { value: out, enumerable: true, configurable: true });
        throw err;
      }
      for (let i = 0; i < got.length; i++) out.push(got[i]);
      this.#giveCredits(got.length);
      if (!block && got.length < max) break; // nothing more is ready
    }
  }

  readSync(count: number, block: boolean, timeout: number): T[] {
    const q = this.queue;
    if (typeof q.getSync !== 'function') throw new TypeError('this shared queue has no getSync(): use read()');
    const want = count < 1 ? kAll : count;
    const opts = { blocking: block, timeout: timeout < 0 ? undefined : timeout };
    const out: T[] = [];
    while (out.length < want) {
      let v: T | undefined;
      try {
        v = q.getSync(opts);
      } catch (err) {
        if (isEnded(err)) {
          this.#endedSeen = true;
          break;
        }
        throw err;
      }
      if (v === undefined) break; // timed out (or empty, without blocking)
      out.push(v);
      this.#giveCredits(1);
    }
    return out;
  }

  end(): void {
    this.#endedSeen = true;
    if (this.#released) return;
    const r = this.queue.end();
    if (r !== undefined && typeof (r as Promise<void>).catch === 'function') (r as Promise<void>).catch(() => {});
    this.credits?.end();
  }

  ended(): boolean {
    if (this.#endedSeen || this.#released) return this.#endedSeen;
    const e = this.queue.ended;
    if (e === true) this.#endedSeen = true;
    return e === true;
  }

  size(): number {
    if (this.#released) return 0;
    const s = this.queue.size;
    if (typeof s === 'number') return s;
    throw typeError('shared queue', 'a queue with a numeric `size` for size() (this one has none)', s);
  }

  /** Closes the handles this backend opened (not the stream); idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.watch?.close();
    if (!this.owned) return;
    const r = this.queue.close?.();
    if (r !== undefined && typeof (r as Promise<void>).catch === 'function') (r as Promise<void>).catch(() => {});
    this.credits?.close();
  }

  get released(): boolean {
    return this.#released;
  }

  #giveCredits(n: number): void {
    const credits = this.credits;
    if (credits === null || n === 0 || this.#released) return;
    const tokens = new Array<number>(n).fill(kToken);
    try {
      credits.putManySync(tokens, { blocking: false });
    } catch (err) {
      if (!isEnded(err)) throw err; // closed channel: credits no longer matter
    }
  }
}

/**
 * Opens the channel's queue; `created` says whether this call created it. A name without an
 * explicit `create` (or with 'openOrCreate') tries 'create' first, then 'open'.
 */
function openQueue<T>(name: string | undefined, qopts: ShmQueueOptions<T>): { queue: ShmQueue<T>; created: boolean } {
  const mode = qopts.create ?? (name === undefined ? 'create' : 'openOrCreate');
  if (mode !== 'openOrCreate') return { queue: new ShmQueue<T>(name, qopts), created: mode === 'create' };
  try {
    return { queue: new ShmQueue<T>(name, { ...qopts, create: 'create' }), created: true };
  } catch (err) {
    if ((err as { code?: string }).code !== 'SHMSYNC_EXISTS') throw err;
  }
  try {
    return { queue: new ShmQueue<T>(name, { ...qopts, create: 'open' }), created: false };
  } catch (err) {
    if ((err as { code?: string }).code !== 'SHMSYNC_NOT_FOUND') throw err;
    // The name was dying (an attached segment whose last handle closed, or whose lease ended)
    // or unlinked between the two calls: openOrCreate reaps it and creates afresh, retrying
    // its races (native). Whether it created is unknown here: not removed on failure.
    return { queue: new ShmQueue<T>(name, { ...qopts, create: 'openOrCreate' }), created: false };
  }
}

/** Opens (or creates and fills) the credit queue of a channel bound to `maxsize` items. */
function openCredits(queueName: string, maxsize: number, lifetime: 'attached' | 'persistent'): ShmQueue<number> {
  const name = `${queueName}.credits`;
  // 16 bytes per token record ('json' of 1: 8-byte header + 1 byte, rounded to 8).
  const capacity = capacityFor(maxsize * 16 * 2);
  let q: ShmQueue<number>;
  try {
    q = new ShmQueue<number>(name, { create: 'create', capacity, codec: 'json', lifetime });
  } catch (err) {
    if ((err as { code?: string }).code !== 'SHMSYNC_EXISTS') throw err;
    return new ShmQueue<number>(name, { create: 'open', codec: 'json' });
  }
  const filled = q.putManySync(new Array<number>(maxsize).fill(kToken), { blocking: false });
  if (filled !== maxsize) {
    q.close();
    throw rangeError('options.maxsize', `at most ${filled} items`, maxsize);
  }
  return q;
}
