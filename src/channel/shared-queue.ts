/**
 * What a shared channel needs from its queue, duck-typed: a ShmQueue, or any object with the
 * same API (e.g. the Redis-backed queue) - nothing here imports a backend. Errors are recognised
 * by their stable codes (SHMSYNC_TIMEOUT, SHMSYNC_QUEUE_CLOSED, ABORT_ERR), so a queue from a
 * second copy of the package or another backend works as long as it throws the same codes.
 * Runs on the calling JS thread (main or worker).
 */
import { typeError } from '../validate';

export interface QueueWaitOptions {
  timeout?: number;
  signal?: AbortSignal;
}

/** The ShmQueue API a shared channel uses. Optional members make it faster or enable more. */
export interface SharedQueueLike<T = unknown> {
  put(value: T, options?: QueueWaitOptions): Promise<void>;
  get(options?: QueueWaitOptions): Promise<T>;
  /** Ends the stream for every handle: puts fail with ReadOnly, gets drain then fail. */
  end(): void | Promise<void>;
  getMany?(max: number, options?: QueueWaitOptions): Promise<T[]>;
  /** Synchronous in a ShmQueue; a queue whose tryPut returns a Promise works with write() only. */
  tryPut?(value: T): boolean | Promise<boolean>;
  putMany?(values: T[], options?: QueueWaitOptions): Promise<void>;
  putManySync?(values: T[], options?: { blocking?: boolean; timeout?: number }): number;
  getSync?(options?: { blocking?: boolean; timeout?: number }): T | undefined;
  putSync?(value: T, options?: { blocking?: boolean; timeout?: number }): boolean;
  /** Releases this handle only (the stream stays). */
  close?(): void | Promise<void>;
  readonly ended?: boolean;
  /** Messages queued now; a queue without a synchronous size makes `size()` throw (coded). */
  readonly size?: number;
  readonly name?: string;
  toJSON?(): unknown;
}

export function isSharedQueueLike(value: unknown): value is SharedQueueLike {
  if (typeof value !== 'object' || value === null) return false;
  const q = value as Record<string, unknown>;
  return typeof q.put === 'function' && typeof q.get === 'function' && typeof q.end === 'function';
}

export function assertSharedQueueLike(name: string, value: unknown): asserts value is SharedQueueLike {
  if (!isSharedQueueLike(value)) {
    throw typeError(
      name,
      'true, a queue name, queue options, or a queue with put(), get() and end() (a ShmQueue)',
      value,
    );
  }
}

export function codeOf(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}
export const isTimeout = (err: unknown): boolean => codeOf(err) === 'SHMSYNC_TIMEOUT';
export const isEnded = (err: unknown): boolean => codeOf(err) === 'SHMSYNC_QUEUE_CLOSED';
export const isAbort = (err: unknown): boolean => codeOf(err) === 'ABORT_ERR';
