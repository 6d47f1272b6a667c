/**
 * The write ends (seed `Writer`, `ChannelWriter`, `CallbackWriterMixin`, `CallbackChannelWriter`).
 * `write()` returns a Promise (it may wait while a bounded channel is full); `close()` closes
 * the channel for every endpoint (idempotent). Runs on the JS thread holding the writer; a shared
 * channel's writer can be posted to another thread or process (toJSON, handles.ts).
 */

import { parseWait, kForever, type WaitOptions } from '../async-util/wait-options';
import { validateFunction } from '../validate';
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

  constructor(channel: Channel<T>) {
    super();
    if (typeof channel !== 'object' || channel === null || typeof (channel as Channel<T>).put !== 'function') {
      throw new TypeError('ChannelWriter needs a Channel');
    }
    this.channel = channel;
    channel._retain();
  }

  /**
   * Writes `item`. Rejects with ReadOnly (SHMSYNC_QUEUE_CLOSED) once the channel is closed,
   * TimeoutError when a bounded channel stays full for `timeout` ms (or at once with
   * `block: false`), AbortError when `signal` aborts.
   */
  write(item: T, options?: WaitOptions): Promise<void> {
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
    return this.channel.tryPut(item);
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
    this.channel.close();
    this.#released = true;
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
    this.#released = true;
    this.channel._releaseRef();
  }

  /** A reference another thread or process revives into a writer of the same shared channel. */
  toJSON(): unknown {
    return this.channel._refFor('ChannelWriter');
  }
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
}
