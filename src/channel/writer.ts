/**
 * The write ends (seed `Writer`, `ChannelWriter`, `CallbackWriterMixin`, `CallbackChannelWriter`).
 * `write()` returns a Promise (it may wait while a bounded channel is full); `close()` closes
 * the channel for every endpoint (idempotent). Runs on the JS thread holding the writer; a shared
 * channel's writer can be posted to another thread or process (toJSON, handles.ts).
 */

import { ClosedError, ReadOnly } from '../errors';
import { parseWait, kForever, type WaitOptions } from '../async-util/wait-options';
import { typeError, validateFunction } from '../validate';
import { kReleaseBorrowed } from '../wire/handle-ref';
import { kEndpoints } from './endpoint-finalizer';
import type { Channel } from './channel';
import { toWritable, toWritableStream, type ToWritableOptions } from './interop-writable';
import type { Writable } from 'node:stream';

export type { WaitOptions } from '../async-util/wait-options';

/** Base class of write ends (seed `Writer`): a device written to. */
export abstract class Writer<T = unknown> {
  /** Writes one item; waits (unless `block: false`) while the device is full. */
  abstract write(item: T, options?: WaitOptions): Promise<void>;
  /** Items in the device now. */
  abstract size(): number;
  /** Closes the device; closing twice is fine. */
  abstract close(): void;
  abstract closed(): boolean;

  /** A Node Writable (object mode) feeding this writer; finishing it closes the channel. */
  toWritable(options?: ToWritableOptions): Writable {
    return toWritable(this, options);
  }
  /** A web WritableStream feeding this writer; closing it closes the channel. */
  toWritableStream(options?: ToWritableOptions): WritableStream<T> {
    return toWritableStream(this, options);
  }
  /** Same as close(): `using w = ...` closes the channel at scope end. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** The write end of a channel. */
export class ChannelWriter<T = unknown> extends Writer<T> {
  readonly channel: Channel<T>;
  #released = false;
  #closedByUs = false;
  readonly #unregister: () => void;
  /**
   * Resolves once this writer is registered for the writer liveness watch of a shared channel
   * (at once for an in-process channel). Writes never wait for it; await it before relying on a
   * reader noticing this writer's death (docs/channels.md).
   */
  readonly registered: Promise<void>;

  constructor(channel: Channel<T>) {
    super();
    if (typeof channel !== 'object' || channel === null || typeof (channel as Channel<T>).put !== 'function') {
      throw new TypeError('ChannelWriter needs a Channel');
    }
    this.channel = channel;
    channel._retain();
    const reg = channel._registerWriter();
    this.#unregister = reg.unregister;
    this.registered = reg.registered;
    // Safety net (Decision 13): a writer collected without close()/release() is released.
    const unregister = reg.unregister;
    kEndpoints.register(
      this,
      () => {
        unregister();
        channel._releaseRef();
      },
      this,
    );
  }

  /**
   * Writes `item`. Rejects with ReadOnly (SHMSYNC_QUEUE_CLOSED) once the channel is closed,
   * TimeoutError when a bounded channel stays full for `timeout` ms (or at once with
   * `block: false`), AbortError when `signal` aborts.
   */
  write(item: T, options?: WaitOptions): Promise<void> {
    if (this.#released) return Promise.reject(this.#releasedError());
    if (options === undefined) return this.channel.put(item, kForever);
    let wait;
    try {
      wait = parseWait('options', options);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.channel.put(item, wait);
  }

  /** Writes without waiting: false when the channel is full. Throws ReadOnly once closed. */
  tryWrite(item: T): boolean {
    if (this.#released) throw this.#releasedError();
    return this.channel.tryPut(item);
  }

  /**
   * Writes `items` (an array or iterable) in order, as one batch where it fits: a shared
   * channel writes each batch with one ring write and takes its credits at once. Waits like
   * write() while the channel is full; on TimeoutError/AbortError/ReadOnly the error's
   * `written` says how many of `items` went in (always a prefix).
   */
  writeMany(items: Iterable<T>, options?: WaitOptions): Promise<void> {
    let list: readonly T[];
    let wait;
    try {
      if (this.#released) throw this.#releasedError();
      list = itemList(items);
      wait = options === undefined ? kForever : parseWait('options', options);
    } catch (err) {
      return Promise.reject(err);
    }
    if (list.length === 0) return Promise.resolve();
    return this.channel.putMany(list, wait);
  }

  /** Writes, without waiting, the longest prefix of `items` that fits; returns its length. */
  tryWriteMany(items: Iterable<T>): number {
    if (this.#released) throw this.#releasedError();
    const list = itemList(items);
    return list.length === 0 ? 0 : this.channel.tryPutMany(list);
  }

  /** After close(): ReadOnly (the channel is closed); after release(): ClosedError. */
  #releasedError(): Error {
    return this.#closedByUs ? new ReadOnly('the channel is closed') : new ClosedError('this writer was released');
  }

  size(): number {
    return this.channel.size();
  }

  /**
   * Closes the channel for every endpoint (idempotent): writes then fail with ReadOnly, readers
   * drain what is left and then get []. A shared channel's writer also releases its handle.
   */
  close(): void {
    if (this.#released) return;
    kEndpoints.unregister(this);
    this.channel.close();
    this.#closedByUs = true;
    this.#released = true;
    this.#unregister();
    this.channel._releaseRef();
  }

  closed(): boolean {
    return this.#released || this.channel.closed();
  }

  /**
   * Releases this endpoint WITHOUT closing the channel (a shared writer's handle in this thread
   * or process: other writers go on). Idempotent; the writer is unusable afterwards.
   */
  release(): void {
    if (this.#released) return;
    kEndpoints.unregister(this);
    this.#released = true;
    this.#unregister();
    this.channel._releaseRef();
  }

  /** A borrower (pcall's child after the call) releases this writer; it never closes the channel. */
  [kReleaseBorrowed](): void {
    this.release();
  }

  /**
   * A reference another thread or process revives into a writer of the same shared channel.
   * Sending copies a reference: this writer keeps working (and must still be closed or
   * released). A closed or released writer refuses to travel (ClosedError), so it cannot come
   * back to life elsewhere.
   */
  toJSON(): unknown {
    if (this.#released) {
      throw new ClosedError(`this writer was ${this.#closedByUs ? 'closed' : 'released'}: it cannot travel`);
    }
    return this.channel._refFor('ChannelWriter');
  }
}

/** `items` of writeMany as an array (iterables copied); a coded TypeError otherwise. */
function itemList<T>(items: Iterable<T>): readonly T[] {
  if (Array.isArray(items)) return items;
  if (
    typeof items === 'string' ||
    typeof (items as { [Symbol.iterator]?: unknown })?.[Symbol.iterator] !== 'function'
  ) {
    throw typeError('items', 'an array or iterable of items', items);
  }
  return Array.from(items);
}

export type PreWriteCallback<T> = (item: T) => T;
const identity = <T>(item: T): T => item;

/** A ChannelWriter whose pre-write callback may replace each item (seed `CallbackChannelWriter`). */
export class CallbackChannelWriter<T = unknown> extends ChannelWriter<T> {
  #pre: PreWriteCallback<T> | undefined;

  /**
   * Installs `fn(item)`, whose return value is written instead of `item` (exceptions reject the
   * write). Without an argument installs a no-op. Returns the previous callback (undefined the
   * first time).
   */
  setPreCb(fn?: PreWriteCallback<T>): PreWriteCallback<T> | undefined {
    if (fn !== undefined) validateFunction('fn', fn);
    const previous = this.#pre;
    this.#pre = fn ?? identity;
    return previous;
  }

  override write(item: T, options?: WaitOptions): Promise<void> {
    if (this.#pre !== undefined) {
      try {
        item = this.#pre(item);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return super.write(item, options);
  }

  override tryWrite(item: T): boolean {
    return super.tryWrite(this.#pre === undefined ? item : this.#pre(item));
  }

  override writeMany(items: Iterable<T>, options?: WaitOptions): Promise<void> {
    const pre = this.#pre;
    if (pre === undefined) return super.writeMany(items, options);
    let mapped: T[];
    try {
      mapped = Array.from(itemList(items), (item) => pre(item));
    } catch (err) {
      return Promise.reject(err);
    }
    return super.writeMany(mapped, options);
  }

  override tryWriteMany(items: Iterable<T>): number {
    const pre = this.#pre;
    return super.tryWriteMany(pre === undefined ? items : Array.from(itemList(items), (item) => pre(item)));
  }
}
