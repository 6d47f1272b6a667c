/**
 * ShmQueue: a shared-memory message queue for many producers and many consumers across
 * processes and worker threads. Thin facade over the native ring (native/core/ring.cc):
 * validates, encodes into framed records (queue-frames.ts), waits through the parker thread.
 * Runs on the calling JS thread.
 */
import { setMaxListeners } from 'node:events';
import { binding, type NativeQueue } from '../addon/binding';
import { ClosedError, CodecError, NotFoundError, ReadOnly, SizeMismatchError, TimeoutError } from '../errors';
import {
  abortErrorFor,
  optionsObject,
  rangeError,
  rejectUnknownOptions,
  validateBoolean,
  validateFunction,
  validateInteger,
  validateName,
  validateOneOf,
  validateTimeout,
  validateWaitOptions,
} from '../validate';
import { decodeRecord, kStructuredJson, validateCodec, type Codec, type CodecName } from '../wire/codec';
import { registerHandleType, type HandleRef } from '../wire/handle-ref';
import { afterRelease, leaseHandoff, lifetimeFlag, noteAttached, type Lifetime } from '../addon/lifetime';
import { segmentNameFor, uniqueName, unlinkByName } from '../addon/names';
import { Outbox, kRecordHeader, recordBytes } from './queue-frames';
import { iterateUntilEnded, withWritten } from './queue-contract';
import { waitQueue } from './queue-wait';
import { RingPoll, type RingNative } from './ring-poll';
import { DrainBatch, type DrainVisitor } from './queue-drain';
import { permissionMode, type CreateMode } from '../shared-memory/shared-memory';
import { Status, statusError } from '../addon/status';
import { queueDrainedTracing, queueFullTracing, traceQueueDrained, traceQueueFull } from '../diagnostics';

export interface ShmQueueOptions<T = unknown> {
  /** Ring bytes, a power of two from 1024 to 2**31 (default 1 MiB). */
  capacity?: number;
  /** Largest message payload in bytes (default and maximum: capacity / 2 - 8). */
  maxMessageSize?: number;
  /** 'structured' (default: v8 serialize), 'json', 'string', 'raw' (Buffer in/out), or custom. */
  codec?: CodecName | Codec<T>;
  create?: CreateMode;
  mode?: number;
  /**
   * For a queue this call creates: `'attached'` (default without a name) is removed when the
   * last handle of every process is closed; `'persistent'` (default with a name) stays until
   * `unlink`. See docs/concepts/naming-and-lifetime.md.
   */
  lifetime?: Lifetime;
}

/** queue.info(): a snapshot of the ring's counters. */
export interface QueueInfo {
  name: string;
  capacity: number;
  maxMessageSize: number;
  /** Messages in the queue now. */
  size: number;
  bytesUsed: number;
  /** True once end() ran anywhere. */
  ended: boolean;
  totalPut: number;
  totalGot: number;
  consumersWaiting: number;
  producersWaiting: number;
}

export interface PutOptions {
  timeout?: number;
  signal?: AbortSignal;
}
export interface GetOptions {
  timeout?: number;
  signal?: AbortSignal;
}
export interface DrainOptions {
  /** Most messages to take in this batch (default: every ready one, up to the handle's inbox). */
  max?: number;
}
export interface DrainWaitOptions extends DrainOptions {
  timeout?: number;
  signal?: AbortSignal;
}
export type { DrainVisitor } from './queue-drain';
export interface SyncOptions {
  blocking?: boolean;
  timeout?: number;
}

const kDefaultCapacity = 1 << 20;
const kModes: readonly CreateMode[] = ['open', 'create', 'openOrCreate'];
const kModeNumber: Record<CreateMode, number> = { open: 0, create: 1, openOrCreate: 2 };
const EMPTY = Symbol('empty');
/** RecordType.Json (src/wire/codec.ts; a const enum there). */
const kJsonRecord = 2;
const kStructuredRecord = 3;

function deadlineOf(timeout: number): number {
  return timeout < 0 ? -1 : Date.now() + timeout;
}

export class ShmQueue<T = unknown> {
  readonly name: string;
  readonly codec: CodecName | Codec<T>;
  #native: RingNative | null;
  #poll: RingPoll | null = null;
  #drain: DrainBatch | null = null;
  readonly #outbox: Outbox;
  #inbox: Buffer;
  readonly #custom: Codec | null;
  /** Records taken from the ring but not yet returned (after a decode error), framed. */
  #held: { buf: Buffer; count: number } | null = null;
  /** Aborted by close(): withdraws this handle's parked waits (get/put reject with ClosedError). */
  #closing: AbortController | undefined;

  constructor(name?: string, options?: ShmQueueOptions<T>) {
    const opts = optionsObject('options', options);
    rejectUnknownOptions('options', opts, ['capacity', 'maxMessageSize', 'codec', 'create', 'mode', 'lifetime'], {
      size: 'capacity',
      maxMessage: 'maxMessageSize',
    });
    if (name !== undefined) validateName('name', name);
    const codec = (opts.codec === undefined ? 'structured' : opts.codec) as CodecName | Codec<T>;
    validateCodec('options.codec', codec);
    let create: CreateMode = name === undefined ? 'create' : 'openOrCreate';
    if (opts.create !== undefined) {
      validateOneOf('options.create', opts.create, kModes);
      create = opts.create;
    }
    const explicit = opts.capacity !== undefined || opts.maxMessageSize !== undefined;
    const capacity = (opts.capacity ?? kDefaultCapacity) as number;
    validateInteger('options.capacity', capacity, 1024, 2 ** 31);
    if ((capacity & (capacity - 1)) !== 0) throw rangeError('options.capacity', 'a power of two', capacity);
    const maxMessage = (opts.maxMessageSize ?? capacity / 2 - kRecordHeader) as number;
    validateInteger('options.maxMessageSize', maxMessage, 1, capacity / 2 - kRecordHeader);
    const perm = permissionMode(opts.mode);
    const lifetime = lifetimeFlag(opts.lifetime, name !== undefined);
    this.name = name ?? uniqueName('queue');
    this.codec = codec;
    this.#custom = typeof codec === 'string' ? null : (codec as Codec);
    const segment = segmentNameFor(this.name);
    let native: NativeQueue | null = null;
    if (create === 'open' || (create === 'openOrCreate' && !explicit)) {
      try {
        native = new binding.Queue(segment, 0, perm, 0, 0);
      } catch (err) {
        if (create === 'open' || !(err instanceof NotFoundError)) throw err;
      }
    }
    native ??= new binding.Queue(segment, kModeNumber[create], perm, capacity, maxMessage, lifetime);
    if (native.attached) noteAttached();
    if (
      explicit &&
      (native.capacity !== capacity || (opts.maxMessageSize !== undefined && native.maxMessage !== maxMessage))
    ) {
      native.closeHandle();
      throw new SizeMismatchError(
        `queue "${this.name}" exists with capacity ${native.capacity} and maxMessageSize ${native.maxMessage}`,
      );
    }
    this.#native = native as RingNative;
    this.#poll = new RingPoll(this.#native);
    // Staging memory is attached to the native handle once; hot calls then pass only numbers.
    this.#inbox = Buffer.allocUnsafeSlow(
      Math.min(native.capacity, Math.max(64 * 1024, recordBytes(native.maxMessage))),
    );
    this.#outbox = new Outbox(codec as CodecName | Codec, native.maxMessage, (buf) =>
      this.#native?.setBuffers(buf, this.#inbox),
    );
    native.setBuffers(this.#outbox.buf, this.#inbox);
  }

  get capacity(): number {
    return this.#open().capacity;
  }
  get maxMessageSize(): number {
    return this.#open().maxMessage;
  }
  /** Messages in the queue now. */
  get size(): number {
    return this.#open().info().size;
  }
  get bytesUsed(): number {
    return this.#open().info().bytesUsed;
  }
  /** True once end() ran, from any handle in any process (the stream has ended for everyone). */
  get ended(): boolean {
    return this.#open().info().closed;
  }
  /** True once close() released THIS handle (as Mutex/SharedMemory `closed`); other handles are unaffected. */
  get closed(): boolean {
    return this.#native === null;
  }

  info(): QueueInfo {
    const n = this.#open();
    // The native field keeps its name (`closed`, the ring's word); the facade calls it `ended`.
    const { closed, ...rest } = n.info();
    return { name: this.name, capacity: n.capacity, maxMessageSize: n.maxMessage, ...rest, ended: closed };
  }

  /** Appends one message; returns false when full (throws ReadOnly once the stream has ended). */
  tryPut(value: T): boolean {
    const native = this.#open();
    const box = this.#outbox;
    box.reset();
    box.append(value);
    const r = native.put(1, box.bytes, 0);
    if (r < 0) this.#throwPut(-r, 0);
    if (r === 0 && queueFullTracing()) traceQueueFull(this.name, native, false);
    return r === 1;
  }

  /** Blocking put: waits while full. Returns false on timeout or, with blocking: false, when full. */
  putSync(value: T, options?: SyncOptions): boolean {
    if (options === undefined) {
      // Fast path: one record, blocking, no timeout; the general loop only when the ring is full.
      const native = this.#open();
      const box = this.#outbox;
      box.reset();
      box.append(value);
      const r = native.put(1, box.bytes, 0);
      if (r === 1) return true;
      if (r < 0) this.#throwPut(-r, 0);
      return this.#putSync([value], true, -1) === 1;
    }
    const { blocking, timeout } = syncOptions(options);
    return this.#putSync([value], blocking, timeout) === 1;
  }

  /** Blocking putMany; returns how many were enqueued (all, unless it timed out). */
  putManySync(values: Iterable<T>, options?: SyncOptions): number {
    const { blocking, timeout } = syncOptions(options);
    return this.#putSync(Array.isArray(values) ? values : Array.from(values), blocking, timeout);
  }

  /** Appends one message, waiting (without blocking the event loop) while the queue is full. */
  async put(value: T, options?: PutOptions): Promise<void> {
    await this.putMany([value], options);
  }

  /**
   * Appends messages in order; one N-API call and at most one wake per batch that fits. Every
   * value is encoded before anything is written. On timeout/abort the error's `written` says
   * how many were enqueued.
   */
  async putMany(values: Iterable<T>, options?: PutOptions): Promise<void> {
    const { timeout, signal } = validateWaitOptions(options);
    const native = this.#open();
    const batch = Array.isArray(values) ? (values as T[]) : Array.from(values);
    this.#stage(batch);
    // An already aborted signal rejects before anything is written (as Mutex.acquire does).
    if (signal?.aborted) throw withWritten(abortErrorFor(signal), 0);
    const deadline = deadlineOf(timeout);
    const box = this.#outbox;
    let written = 0;
    for (;;) {
      const r = native.put(box.count, box.bytes, 0);
      if (r < 0) this.#throwPut(-r, written);
      written += r;
      if (r === box.count) return;
      if (queueFullTracing()) traceQueueFull(this.name, native, true);
      // Full. While we wait, other puts on this handle may use the outbox: keep the records
      // not yet written privately and stage them again after the wait.
      let consumed = 0;
      for (let i = 0; i < r; i++) consumed += box.sizes[i];
      const rest = Buffer.from(box.buf.subarray(consumed, box.bytes));
      const restSizes = box.sizes.slice(r);
      if (signal?.aborted) throw withWritten(abortErrorFor(signal), written);
      const outcome = await waitQueue(native, restSizes[0], deadline, signal, this.#closedSignal());
      if (outcome === 'closed') throw withWritten(this.#closedError(), written);
      if (outcome === 'timeout') throw withWritten(new TimeoutError(`queue "${this.name}": put timed out`), written);
      if (outcome === 'abort') throw withWritten(abortErrorFor(signal!), written);
      box.load(rest, restSizes);
    }
  }

  /** Removes one message, or returns undefined when empty. Throws ReadOnly once ended and drained. */
  tryGet(): T | undefined {
    const v = this.#takeOne();
    return v === EMPTY ? undefined : v;
  }

  /** Blocking get: undefined on timeout or, with blocking: false, when empty. */
  getSync(options?: SyncOptions): T | undefined {
    const { blocking, timeout } = syncOptions(options);
    const native = this.#open();
    const deadline = deadlineOf(timeout);
    for (;;) {
      const v = this.#takeOne();
      if (v !== EMPTY) return v;
      if (!blocking || timeout === 0) return undefined;
      const st = native.waitData(deadline < 0 ? -1 : Math.max(0, deadline - Date.now()));
      if (st === Status.Timeout) return undefined;
    }
  }

  /** Waits for a message (without blocking the event loop). */
  get(options?: GetOptions): Promise<T> {
    return this.#receive(() => this.#takeOne(), options);
  }

  /** Waits for at least one message, then returns every ready one up to `max`. */
  getMany(max: number, options?: GetOptions): Promise<T[]> {
    try {
      validateInteger('max', max, 1, 2 ** 31 - 1);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#receive(() => {
      const out = this.#take(max);
      return out.length > 0 ? out : EMPTY;
    }, options);
  }

  /**
   * Takes up to `options.max` ready messages (default: all, one batch) without a per-message
   * allocation and calls `visit(view, i)` with a Uint8Array view of each raw payload (the
   * record's bytes, whatever codec wrote it). The views are valid only during this call: they
   * are detached (length 0) when it returns or throws, and cannot be transferred meanwhile.
   * Never blocks; returns how many messages were visited (0 when empty).
   * If `visit` throws, the messages after the one it threw on stay with this handle and are
   * returned first by its next get/drain; the throwing one counts as delivered.
   */
  drainSync(visit: DrainVisitor, options?: DrainOptions): number {
    validateFunction('visit', visit);
    const max = drainMax(options);
    return this.#drainOnce(visit, max);
  }

  /** As drainSync, but waits (like get()) until at least one message is ready. */
  async drain(visit: DrainVisitor, options?: DrainWaitOptions): Promise<number> {
    validateFunction('visit', visit);
    const opts = options === undefined ? undefined : optionsObject('options', options);
    if (opts !== undefined) rejectUnknownOptions('options', opts, ['max', 'timeout', 'signal']);
    const max = drainMax(opts === undefined ? undefined : { max: opts.max as number | undefined });
    const waitOpts =
      opts === undefined
        ? undefined
        : { timeout: opts.timeout as number | undefined, signal: opts.signal as AbortSignal | undefined };
    return this.#receive(
      () => {
        const n = this.#drainOnce(visit, max);
        return n > 0 ? n : EMPTY;
      },
      waitOpts as GetOptions | undefined,
    );
  }

  #drainOnce(visit: DrainVisitor, max: number): number {
    const native = this.#open();
    const drain = (this.#drain ??= new DrainBatch(native, this.#inbox));
    const hold = (framed: Buffer, count: number): void => this.#prependHeld(framed, count);
    if (this.#held !== null) {
      const { buf, count } = this.#held;
      this.#held = null;
      return drain.visitHeld(buf, count, max, visit, hold);
    }
    return drain.take(max, visit, (st) => this.#throwGet(st), hold);
  }

  /** Puts framed records in front of the held ones (a drain visitor threw: they come next). */
  #prependHeld(framed: Buffer, count: number): void {
    const held = this.#held;
    this.#held =
      held === null ? { buf: framed, count } : { buf: Buffer.concat([framed, held.buf]), count: count + held.count };
  }

  /**
   * One native get of up to `max` records: into the inbox, or - while a drain batch is open (a
   * get inside a drain visitor) - into a buffer of its own, so the batch's inbox copy stays intact.
   */
  #fetch(max: number): { count: number; buf: Buffer } {
    const native = this.#open();
    if (this.#drain === null || !this.#drain.active) return { count: native.get(max), buf: this.#inbox };
    const buf = Buffer.allocUnsafeSlow(this.#inbox.length);
    return { count: native.getInto(buf, max), buf };
  }

  /**
   * The wait loop of get/getMany: options are checked and an aborted signal rejects before
   * anything is taken; then take, or park until data arrives (parker thread), until the deadline.
   */
  async #receive<R>(take: () => R | typeof EMPTY, options: GetOptions | undefined): Promise<R> {
    const { timeout, signal } = validateWaitOptions(options);
    const native = this.#open();
    const deadline = deadlineOf(timeout);
    const poll = this.#poll!;
    for (;;) {
      if (signal?.aborted) throw abortErrorFor(signal);
      const v = take();
      if (v !== EMPTY) {
        poll.hot = true;
        return v;
      }
      // Checked on every round, not only by the park's timer: a wake whose message another
      // consumer took first starts a new round (and a new timer) and could repeat for ever.
      if (deadline >= 0 && Date.now() >= deadline) throw new TimeoutError(`queue "${this.name}": get timed out`);
      // Hot traffic: poll the ring from JS for a few event-loop turns before parking.
      if (poll.hot) {
        if (await poll.spinForData(deadline, () => signal?.aborted === true || this.#native === null)) {
          if (this.#native === null) throw this.#closedError();
          continue;
        }
        // The spin awaited: the signal may have aborted meanwhile (its event already fired).
        if (signal?.aborted) throw abortErrorFor(signal);
        if (this.#native === null) throw this.#closedError();
      }
      const outcome = await waitQueue(native, -1, deadline, signal, this.#closedSignal());
      if (outcome === 'closed') throw this.#closedError();
      if (outcome === 'timeout') throw new TimeoutError(`queue "${this.name}": get timed out`);
      if (outcome === 'abort') throw abortErrorFor(signal!);
    }
  }

  /** Iterates messages until the stream has ended (end()) and is drained. */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    return iterateUntilEnded(() => this.get());
  }

  /**
   * Ends the stream for every handle in every process (seed `set_writable(False)`): puts fail
   * with ReadOnly; gets drain what is left, then fail with ReadOnly; waiters wake. Recorded in
   * the segment, permanent, idempotent. This handle stays open (release it with close()).
   */
  end(): void {
    this.#open().close();
  }

  /**
   * Releases this handle (unmaps it); the queue, its messages and its stream stay for other
   * handles and processes. Idempotent. Does not end the stream: that is end().
   */
  close(): void {
    if (this.#native === null) return;
    afterRelease(segmentNameFor(this.name), this.#native.closeHandle());
    this.#native = null;
    this.#poll = null;
    this.#drain = null;
    // A pending get()/put()/drain() of this handle would otherwise stay parked forever and keep
    // the event loop alive: it rejects with ClosedError (other handles' waits are unaffected).
    this.#closing?.abort();
  }

  /** `'attached'` or `'persistent'`: recorded in the segment by its creator. */
  get lifetime(): Lifetime {
    return this.#open().attached ? 'attached' : 'persistent';
  }

  unlink(): boolean {
    return ShmQueue.unlink(this.name);
  }

  static unlink(name: string): boolean {
    return unlinkByName(name);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  toJSON(): HandleRef {
    leaseHandoff(this.#native);
    return { $shmsync: 'ShmQueue', name: this.name, codec: typeof this.codec === 'string' ? this.codec : 'custom' };
  }

  #putSync(values: T[], blocking: boolean, timeout: number): number {
    const native = this.#open();
    this.#stage(values);
    const box = this.#outbox;
    const deadline = deadlineOf(timeout);
    let done = 0;
    let offset = 0;
    for (;;) {
      const r = native.put(box.count - done, box.bytes - offset, offset);
      if (r < 0) this.#throwPut(-r, done);
      for (let i = 0; i < r; i++) offset += box.sizes[done + i];
      done += r;
      if (done !== box.count && queueFullTracing()) traceQueueFull(this.name, native, blocking && timeout !== 0);
      if (done === box.count || !blocking || timeout === 0) return done;
      const st = native.waitSpace(box.sizes[done], deadline < 0 ? -1 : Math.max(0, deadline - Date.now()));
      if (st === Status.Timeout) return done;
    }
  }

  #stage(values: readonly T[]): void {
    this.#outbox.reset();
    try {
      for (let i = 0; i < values.length; i++) this.#outbox.append(values[i]);
    } catch (err) {
      this.#outbox.reset();
      throw err;
    }
  }

  #takeOne(): T | typeof EMPTY {
    if (this.#held !== null || (this.#drain !== null && this.#drain.active)) {
      const out = this.#take(1);
      return out.length === 0 ? EMPTY : out[0];
    }
    const r = this.#open().get(1);
    if (r === 0) return EMPTY;
    if (r < 0) this.#throwGet(-r);
    if (queueDrainedTracing()) traceQueueDrained(this.name, this.#open());
    const inbox = this.#inbox;
    const len = inbox.readUInt32LE(0);
    return this.#decode(inbox.readUInt32LE(4), inbox, kRecordHeader, kRecordHeader + len);
  }

  /**
   * Takes up to `max` records (held ones first) and decodes them in order. A record that fails
   * to decode is the only one lost: the records after it were consumed from the ring with it,
   * so they are held privately and returned by the next calls, in order.
   */
  #take(max: number): T[] {
    const native = this.#open();
    let buf: Buffer;
    let off = 0;
    let count: number;
    if (this.#held !== null) {
      ({ buf, count } = this.#held);
      this.#held = null;
    } else {
      ({ count, buf } = this.#fetch(max));
      if (count < 0) this.#throwGet(-count);
      if (count > 0 && queueDrainedTracing()) traceQueueDrained(this.name, native);
    }
    const n = Math.min(count, max);
    const out: T[] = [];
    for (let i = 0; i < n; i++) {
      const len = buf.readUInt32LE(off);
      const type = buf.readUInt32LE(off + 4);
      const next = off + recordBytes(len);
      try {
        out.push(this.#decode(type, buf, off + kRecordHeader, off + kRecordHeader + len));
      } catch (err) {
        // Deliver what decoded first; the failing record then throws on the next call.
        if (out.length > 0) {
          this.#hold(buf, off, count - i);
          return out;
        }
        this.#hold(buf, next, count - i - 1);
        throw err;
      }
      off = next;
    }
    this.#hold(buf, off, count - n);
    return out;
  }

  /**
   * Decodes one record (decodeRecord), with the common JSON records - a json record without
   * handle table (first byte other than 0x1e) and a structured record in JSON form (first byte
   * kStructuredJson, codec.ts) - parsed here directly: one toString and one JSON.parse.
   */
  #decode(type: number, buf: Buffer, start: number, end: number): T {
    const json =
      end > start &&
      ((type === kJsonRecord && buf[start] !== 0x1e) || (type === kStructuredRecord && buf[start] === kStructuredJson));
    if (json) {
      const text = buf.toString('utf8', type === kJsonRecord ? start : start + 1, end);
      try {
        return JSON.parse(text) as T;
      } catch (err) {
        const what = type === kJsonRecord ? 'JSON' : 'structured clone, JSON form';
        throw new CodecError(`a message could not be decoded (${what}): ${(err as Error).message}`, { cause: err });
      }
    }
    return decodeRecord(type, buf, start, end, this.#custom) as T;
  }

  #hold(buf: Buffer, off: number, count: number): void {
    if (count <= 0) return;
    let end = off;
    for (let i = 0; i < count; i++) end += recordBytes(buf.readUInt32LE(end));
    this.#held = { buf: Buffer.from(buf.subarray(off, end)), count };
  }

  #throwGet(status: number): never {
    // Closed means "ended" here (SHMSYNC_QUEUE_CLOSED), not the table's "handle closed".
    if (status === Status.Closed) throw new ReadOnly(`queue "${this.name}" has ended and is drained`);
    throw statusError(
      status,
      `queue "${this.name}"`,
      status === Status.Corrupt ? 'shared memory is corrupt' : undefined,
    );
  }

  #throwPut(status: number, written: number): never {
    if (status === Status.Closed) throw withWritten(new ReadOnly(`queue "${this.name}" has ended`), written);
    const detail =
      status === Status.TooLarge
        ? 'message too large'
        : status === Status.Corrupt
          ? 'shared memory is corrupt'
          : undefined;
    throw statusError(status, `queue "${this.name}"`, detail);
  }

  /** The signal close() aborts; created by the first wait that parks (JS thread). */
  #closedSignal(): AbortSignal {
    if (this.#closing === undefined) {
      this.#closing = new AbortController();
      setMaxListeners(0, this.#closing.signal); // one listener per pending wait: not a leak
    }
    return this.#closing.signal;
  }

  #closedError(): Error {
    return new ClosedError(`queue "${this.name}": this handle was closed while waiting`);
  }

  #open(): RingNative {
    if (this.#native === null) throw new ClosedError(`queue "${this.name}": this handle is closed`);
    return this.#native;
  }
}

function drainMax(options: DrainOptions | undefined): number {
  if (options === undefined) return 2 ** 31 - 1;
  const opts = optionsObject('options', options);
  rejectUnknownOptions('options', opts, ['max']);
  if (opts.max === undefined) return 2 ** 31 - 1;
  validateInteger('options.max', opts.max, 1, 2 ** 31 - 1);
  return opts.max;
}

function syncOptions(options: unknown): { blocking: boolean; timeout: number } {
  if (options === undefined) return { blocking: true, timeout: -1 };
  const opts = optionsObject('options', options);
  rejectUnknownOptions('options', opts, ['blocking', 'timeout'], { block: 'blocking' });
  const blocking = opts.blocking ?? true;
  validateBoolean('options.blocking', blocking);
  return { blocking, timeout: validateTimeout('options.timeout', opts.timeout) };
}

registerHandleType(
  'ShmQueue',
  (ref) =>
    new ShmQueue(ref.name, {
      create: 'open',
      codec: typeof ref.codec === 'string' && ref.codec !== 'custom' ? (ref.codec as CodecName) : 'structured',
    }),
  ShmQueue,
);
