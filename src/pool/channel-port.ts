/**
 * What the pool layer needs from the channel layer, in one place: the reader/writer shapes a
 * task reads from and writes to, and the output channels a pool creates (seed: SerialChannel when
 * the pool has no workers at that moment, else Channel).
 */
import { ReadOnly } from '../errors';
import {
  CallbackChannelReader,
  Channel,
  ChannelWriter,
  IteratorReader,
  mkchannel,
  SerialChannel,
} from '../channel';
import type { WaitOptions } from '../async-util';

/** Options of a read (SEMANTICS.md §2.3): block, per-item timeout, signal. */
export type ReadOptions = WaitOptions;

/** The read side a task reads from (a channel reader, an iterator reader, a pool reader). */
export interface ItemReader<T = unknown> {
  read(count?: number, options?: ReadOptions): Promise<T[]> | T[];
}

/** The write side a task writes its results to (a channel writer). */
export interface ItemWriter<T = unknown> {
  write(item: T): unknown;
  /** Optional synchronous write: false when a bounded channel is full. */
  tryWrite?(item: T): boolean;
  close(): void;
  closed(): boolean;
}

/** Whether `err` is the "channel closed for writing" error (another chunk of the task failed). */
export function isReadOnly(err: unknown): boolean {
  return err instanceof ReadOnly;
}

/** A new output channel `[writer, reader]`; `threaded`: Channel (workers write), else SerialChannel. */
export function newChannel<T>(threaded: boolean): [ChannelWriter<T>, CallbackChannelReader<T>] {
  return mkchannel<T, ChannelWriter<T>, CallbackChannelReader<T>>({
    ctype: threaded ? Channel : SerialChannel,
    rtype: CallbackChannelReader,
  });
}

/** A reader of the channel behind `writer` (a task created with its own writer). */
export function readerFor<T>(writer: ItemWriter<T>): CallbackChannelReader<T> {
  if (writer instanceof ChannelWriter) return new CallbackChannelReader<T>(writer.channel as Channel<T>);
  throw new TypeError('a task writer must be a ChannelWriter (from mkchannel) for the pool to read its channel');
}

/** A never-blocking reader over an iterator (seed IteratorReader). */
export function iteratorReader<T>(iterator: Iterator<T>): ItemReader<T> {
  return new IteratorReader<T>(iterator);
}
