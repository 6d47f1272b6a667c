/**
 * PoolReader (seed `async.pool.PoolReader`, SEMANTICS.md §2.6): the handle `pool.addTask()`
 * returns. Reading schedules the work the read needs (every read, by design), then reads the
 * task's output channel with the ordinary channel rules.
 *
 * Lifetime (Decision 13): the seed removed a task when the CPython refcount of its last reader
 * dropped. Here a reader is released explicitly - `close()`, `Symbol.dispose` (`using`) - and a
 * FinalizationRegistry releases a reader the program dropped without closing it (a safety net:
 * when it runs is up to the garbage collector). A task whose reader is released and that no
 * other task of any pool reads from is removed from its pool; removing a task releases its hold
 * on its input reader, so a chain whose last reader is closed goes away input by input (the
 * seed's orphan removal).
 *
 * Runs on the thread that owns the pool.
 */
import { ClosedError } from '../errors';
import { validateInteger } from '../validate';
import { CallbackChannelReader, Reader, type PostReadCallback, type PreReadCallback } from '../channel';
import type { ItemReader, ReadOptions } from './channel-port';
import type { Task } from './task';

/** What a reader needs from its pool (pool.ts implements it). */
export interface PoolCore {
  /**
   * @internal Schedules (size > 0) or performs (size 0) the work a read of `count` needs; at size
   * 0 stops waiting for that work on the read's signal or timeout, or on close(), and says which.
   */
  _prepareChannelRead(
    task: Task,
    count: number,
    options?: ReadOptions,
  ): Promise<'done' | 'closed' | 'aborted' | 'timeout'> | 'done' | 'closed' | 'aborted';
  removeTask(task: Task): unknown;
  size(): number;
}

/** Shared by a reader and its finalizer: never references the reader itself. */
interface ReaderState {
  readonly task: Task;
  readonly pool: PoolCore;
  /** The channel read end, closed once the handle is released and no task reads it. */
  readonly channel: ItemReader;
  /** The program's handle is open (not closed, not collected). */
  open: boolean;
  /** Tasks (in any pool) reading from this reader. */
  holds: number;
}

function released(state: ReaderState): void {
  if (state.open || state.holds > 0) return;
  state.pool.removeTask(state.task);
  (state.channel as { close?: () => void }).close?.();
}

/**
 * Readers with a read in progress, held strongly: a program may drop its reader while awaiting a
 * read (`await pool.addTask(t).read()`); once the read reached the channel nothing else held the
 * reader, the collector could run the finalizer mid-read, and the read rejected with
 * ClosedError ("closed while reading"). The count is per reader (concurrent reads).
 */
const reading = new Map<object, number>();

const finalizer = new FinalizationRegistry<ReaderState>((state) => {
  if (!state.open) return;
  state.open = false;
  released(state);
});

/**
 * Reads a pool task's output; see the file comment. A Reader (for await, toReadable(),
 * toReadableStream()); `setPreCb` / `setPostCb` as on the seed's CallbackChannelReader.
 */
export class PoolReader<T = unknown> extends Reader<T> implements ItemReader<T> {
  readonly #channel: ItemReader<T>;
  readonly #state: ReaderState;
  readonly #taskRef: WeakRef<Task>;
  readonly #poolRef: WeakRef<PoolCore>;

  /** @internal Created by Pool.addTask. */
  constructor(channel: ItemReader<T>, task: Task, pool: PoolCore) {
    super();
    this.#channel = channel;
    this.#state = { task, pool, channel, open: true, holds: 0 };
    this.#taskRef = new WeakRef(task);
    this.#poolRef = new WeakRef(pool);
    finalizer.register(this, this.#state, this.#state);
  }

  /**
   * Reads up to `count` items (`0`: until the task's output is closed) with the channel read
   * rules (`block`, per-item `timeout`, `signal`). Unless the task is done or failed, the pool
   * first schedules (workers) or performs (size 0) the work this read needs, through the graph.
   */
  override async read(count = 0, options?: ReadOptions): Promise<T[]> {
    const state = this.#state;
    if (!state.open) throw new ClosedError('this pool reader was closed');
    // Validated before any work is scheduled (read(-1) used to run the chain first).
    validateInteger('count', count, 0, Number.MAX_SAFE_INTEGER);
    reading.set(this, (reading.get(this) ?? 0) + 1);
    try {
      const task = state.task;
      if (!task.isDone() && task.error() === undefined) {
        const how = await state.pool._prepareChannelRead(task, count, options);
        // The reader's time ran out while the work (size 0) ran here: what the channel has now.
        if (how === 'timeout') return await this.#channel.read(count, { ...options, block: false });
      }
      // 'aborted': the channel read rejects with the signal's reason, as every channel wait does.
      return await this.#channel.read(count, options);
    } finally {
      const n = (reading.get(this) ?? 1) - 1;
      if (n === 0) reading.delete(this);
      else reading.set(this, n);
    }
  }

  /** @internal The channel read without scheduling (a dependent task of the same pool reads this). */
  _read(count = 0, options?: ReadOptions): Promise<T[]> | T[] {
    return this.#channel.read(count, options);
  }

  /** The task this reader reads from. */
  task(): Task {
    return this.#state.task;
  }

  /** The pool of the task. */
  pool(): PoolCore {
    return this.#state.pool;
  }

  /** Weak reference to the task (the seed's `task_ref()`). */
  taskRef(): WeakRef<Task> {
    return this.#taskRef;
  }

  /** Weak reference to the pool (the seed's `pool_ref()`). */
  poolRef(): WeakRef<PoolCore> {
    return this.#poolRef;
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return !this.#state.open;
  }

  /**
   * Releases this handle (idempotent). If no task reads from it, its task is removed from the
   * pool, and so are the inputs that nobody reads any more. Reading a closed reader throws
   * ClosedError.
   */
  override close(): void {
    const state = this.#state;
    if (!state.open) return;
    state.open = false;
    finalizer.unregister(state);
    released(state);
  }

  /** Installs the callback run with the count before each read; returns the previous one. */
  setPreCb(fn?: PreReadCallback): PreReadCallback | undefined {
    return this.#callbacks().setPreCb(fn);
  }

  /** Installs the callback that may replace the items read; returns the previous one. */
  setPostCb(fn?: PostReadCallback<T>): PostReadCallback<T> | undefined {
    return this.#callbacks().setPostCb(fn);
  }

  #callbacks(): CallbackChannelReader<T> {
    if (this.#channel instanceof CallbackChannelReader) return this.#channel;
    throw new TypeError('this pool reader reads a channel without callbacks');
  }

  /** @internal A task (of any pool) now reads from this reader. */
  _hold(): void {
    this.#state.holds += 1;
  }

  /** @internal That task was removed from its pool. */
  _release(): void {
    const state = this.#state;
    if (state.holds > 0) state.holds -= 1;
    released(state);
  }
}
