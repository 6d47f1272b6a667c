/**
 * Tasks (seed `async.task`, SEMANTICS.md §2.5): a node of a pool's graph that reads items from its
 * input, applies its function, and writes the results to its output channel.
 *
 * `process(count)` follows the seed step by step: count itself as a writer, read `count` items
 * (`0`: all), apply `fn` per item (`applySingle`) or to the whole list, write every result; on
 * any failure mark itself done, close its output (so no reader waits forever) and keep the error
 * (`error()`), unless the failure is `ReadOnly` (another chunk failed first and closed the
 * channel); the error is not re-thrown. It is done once a read returns fewer items than asked
 * for, and the last writer of a done task closes the output.
 *
 * Differences from the seed (Decision 12): the constructor honours `minCount` and `maxChunksize`;
 * `process()` returns a promise (reads are `await`ed); a failing read counts as a failure of the
 * task (the seed let it escape with the writer count still raised); the function may be a module
 * reference `{ module, export }` (pcall's target form), which is how a task function with
 * closures reaches worker threads and child processes.
 *
 * Runs on the thread that owns the pool. With workers (pool size > 0) only the function runs
 * remotely; reading and writing stay here (see pool.ts, remote.ts).
 */
import { validateInteger, typeError, validateBoolean } from '../validate';
import { importModule, type Target } from '../pcall/target';
import { Node } from './graph';
import { isReadOnly, iteratorReader, type ItemReader, type ItemWriter } from './channel-port';

/** A task function: a function (shipped as source text to workers) or a module reference. */
export type TaskFn = Target;

/** Options of a {@link Task} (the seed's keyword arguments). */
export interface TaskOptions {
  /** `true` (default): `fn(item)` per item; `false`: `fn(items)` once, returning an iterable. */
  applySingle?: boolean;
  /** Produce at least this many items per scheduling step (raises the whole chain's batch). */
  minCount?: number | null;
  /** Split a step of more items into chunks of at most this many (0: no limit). */
  maxChunksize?: number;
  /** Output writer to use instead of the one the pool creates. */
  writer?: ItemWriter;
}

/**
 * What a chunk produced: the results in order, and the error that stopped it, if any. `failed`
 * says whether it failed: a function may throw `undefined`, so `error` alone cannot tell.
 */
export interface ChunkResult {
  readonly results: unknown[];
  readonly failed?: boolean;
  readonly error?: unknown;
}

/** Runs a task's function over `items` somewhere else (a pool worker, remote.ts); never rejects. */
export type ChunkApply = (task: Task, items: unknown[]) => Promise<ChunkResult>;

/** How a task's read function is called. */
export type ReadFn = (count: number, options?: { signal?: AbortSignal }) => Promise<unknown[]> | unknown[];

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function optionalCount(name: string, value: unknown): number | null {
  if (value === undefined || value === null) return null;
  validateInteger(name, value, 0, Number.MAX_SAFE_INTEGER);
  return value === 0 ? null : value;
}

/** A named unit of work in a pool (seed `Task`). Subclasses set the read function. */
export class Task extends Node {
  /** The function applied to items (undefined: identity). */
  fn: TaskFn | undefined;
  /** Whether `fn` gets single items (`true`) or the list read in one step. */
  applySingle: boolean;
  #minCount: number | null = null;
  #maxChunksize = 0;
  /** @internal Where items come from. */
  protected _read: ReadFn | undefined = undefined;
  #writer: ItemWriter | undefined;
  #error: unknown = undefined;
  #done = false;
  #numWriters = 0;
  /** A module-reference fn loaded for local calls (size 0). */
  #loaded: { readonly target: TaskFn; readonly fn: (...a: unknown[]) => unknown; readonly self: unknown } | undefined;

  constructor(id: unknown, fn: TaskFn | undefined | null, options: TaskOptions = {}) {
    super(id);
    if (typeof options !== 'object' || options === null) throw typeError('options', 'an object', options);
    this.fn = fn ?? undefined;
    const applySingle = options.applySingle ?? true;
    validateBoolean('options.applySingle', applySingle);
    this.applySingle = applySingle;
    this.#minCount = optionalCount('options.minCount', options.minCount);
    this.#maxChunksize = optionalCount('options.maxChunksize', options.maxChunksize) ?? 0;
    this.#writer = options.writer;
  }

  /**
   * Minimum items per scheduling step, or null. A plain field in the seed (its tests assign it);
   * here an assignment is validated like the constructor option (an integer from 0 to 2^53 - 1,
   * 0 and null meaning none): NaN, Infinity, negative or fractional values throw a coded error
   * instead of scheduling nonsense (Infinity made an array of Infinity chunks).
   */
  get minCount(): number | null {
    return this.#minCount;
  }

  set minCount(value: number | null) {
    this.#minCount = optionalCount('minCount', value);
  }

  /** Largest chunk per process call (0: no limit); validated like minCount. */
  get maxChunksize(): number {
    return this.#maxChunksize;
  }

  set maxChunksize(value: number) {
    this.#maxChunksize = optionalCount('maxChunksize', value) ?? 0;
  }

  /** True once the task has produced everything it will (input exhausted, failed or removed). */
  isDone(): boolean {
    return this.#done;
  }

  /** Marks the task done: the pool schedules no more work for it. */
  setDone(): void {
    this.#done = true;
  }

  /** Replaces the output writer. */
  setWriter(writer: ItemWriter | undefined): void {
    this.#writer = writer;
  }

  /** The output writer, or undefined before the task was added to a pool. */
  writer(): ItemWriter | undefined {
    return this.#writer;
  }

  /** Closes the output so readers wake up (idempotent; nothing to do without a writer). */
  close(): void {
    this.#writer?.close();
  }

  /** Whether the output writer is closed. */
  isClosed(): boolean {
    return this.#writer?.closed() ?? false;
  }

  /** The error of the last failed processing, or undefined (the seed returned None). */
  error(): unknown {
    return this.#error;
  }

  /** @internal Whether a process call of this task is running now. */
  get activeWriters(): number {
    return this.#numWriters;
  }

  /**
   * Processes up to `count` items (`0`: everything the input has) and writes the results to the
   * output. Never rejects: a failure is kept in `error()`. `apply` (internal, given by a pool with
   * workers) runs the function elsewhere; `signal` (internal) ends a wait for input when the pool
   * closes.
   */
  async process(count = 0, apply?: ChunkApply, signal?: AbortSignal): Promise<void> {
    this.#numWriters += 1;
    let items: unknown[] = [];
    try {
      try {
        const read = this._read;
        if (read === undefined) throw new TypeError(`task ${String(this.id)} has no input to read from`);
        const got = signal === undefined ? read(count) : read(count, { signal });
        items = isThenable(got) ? ((await got) as unknown[]) : got;
        if (items.length > 0) {
          const writer = this.#writer;
          if (writer === undefined) throw new TypeError(`task ${String(this.id)} has no output writer`);
          if (this.fn !== undefined && apply !== undefined) {
            const { results, failed, error } = await apply(this, items);
            await writeAll(writer, results);
            if (failed === true) throw failedWith(this, error);
          } else {
            await this.#applyLocal(writer, items);
          }
        }
      } finally {
        this.#numWriters -= 1;
      }
    } catch (err) {
      this.setDone();
      try {
        this.close();
      } catch {
        // A writer that cannot close: the error below is what matters.
      }
      // ReadOnly: another chunk failed first and closed the output; keep its error.
      if (!isReadOnly(err)) this.#error = failedWith(this, err);
    }
    if (items.length === 0 || items.length !== count) this.setDone();
    if (this.#done && this.#numWriters === 0) this.close();
  }

  async #applyLocal(writer: ItemWriter, items: unknown[]): Promise<void> {
    const { fn, self } = await this.#localFn();
    if (this.applySingle) {
      for (const item of items) {
        let value = fn === undefined ? item : fn.call(self, item);
        if (isThenable(value)) value = await value;
        const pending = put(writer, value);
        if (pending !== undefined) await pending;
      }
    } else {
      let rvals = fn === undefined ? items : fn.call(self, items);
      if (isThenable(rvals)) rvals = await rvals;
      await writeAll(writer, rvals as Iterable<unknown>);
    }
  }

  async #localFn(): Promise<{ fn: ((...a: unknown[]) => unknown) | undefined; self: unknown }> {
    const target = this.fn;
    if (target === undefined) return { fn: undefined, self: undefined };
    if (typeof target === 'function') return { fn: target, self: undefined };
    if (this.#loaded?.target === target) return this.#loaded;
    if (!('module' in target)) throw typeError('fn', 'a function or a module reference { module, export }', target);
    const mod = await importModule(String(target.module instanceof URL ? target.module.href : target.module));
    const picked = target.export !== undefined ? mod?.[target.export] : typeof mod === 'function' ? mod : mod?.default;
    if (typeof picked !== 'function') throw typeError('fn', 'a module reference to a function', target);
    this.#loaded = { target, fn: picked as (...a: unknown[]) => unknown, self: mod };
    return this.#loaded;
  }
}

/**
 * The error a failed task keeps: what was thrown, except `undefined` and `null`, which would make
 * `error()` say "no failure"; those become an Error naming the task, the value in `thrown`.
 */
function failedWith(task: Task, thrown: unknown): unknown {
  if (thrown !== undefined && thrown !== null) return thrown;
  const err = new Error(`task ${String(task.id)} failed: its function threw ${String(thrown)}`);
  return Object.assign(err, { thrown });
}

async function writeAll(writer: ItemWriter, values: Iterable<unknown>): Promise<void> {
  if (values === null || typeof (values as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw new TypeError('a task function with applySingle: false must return an iterable');
  }
  for (const value of values) {
    const pending = put(writer, value);
    if (pending !== undefined) await pending;
  }
}

/** Writes without a promise when the channel takes the item at once (the common case). */
function put(writer: ItemWriter, value: unknown): Promise<void> | void {
  if (writer.tryWrite !== undefined && writer.tryWrite(value)) return;
  const r = writer.write(value);
  if (isThenable(r)) return r as Promise<void>;
}

/** Seed `ThreadTaskBase`: a marker for tasks usable with threaded pools (every task is). */
export function isThreadTask(task: unknown): task is Task {
  return task instanceof Task;
}

/** A task reading from an iterator, never blocking (seed `IteratorTaskBase`); fn defaults to identity. */
export class IteratorTask extends Task {
  constructor(iterator: Iterator<unknown> | Iterable<unknown>, id: unknown, fn?: TaskFn | null, options?: TaskOptions) {
    super(id, fn, options);
    // An iterator, or (unlike the seed, which wanted iter(list)) any iterable, arrays included.
    const it =
      iterator !== null &&
      typeof iterator === 'object' &&
      typeof (iterator as Iterator<unknown>).next !== 'function' &&
      typeof (iterator as Iterable<unknown>)[Symbol.iterator] === 'function'
        ? (iterator as Iterable<unknown>)[Symbol.iterator]()
        : (iterator as Iterator<unknown>);
    const reader = iteratorReader(it);
    this._read = (count) => reader.read(count);
  }
}

/** The seed's name for an IteratorTask in a thread pool (same class: every pool can run it). */
export class IteratorThreadTask extends IteratorTask {}

/** A task reading from another reader, e.g. a pool reader (seed `ChannelThreadTask`). */
export class ChannelTask extends Task {
  #reader: ItemReader;
  #pool: WeakRef<object> | undefined = undefined;

  constructor(inReader: ItemReader, id: unknown, fn?: TaskFn | null, options?: TaskOptions) {
    super(id, fn, options);
    if (inReader === null || typeof inReader !== 'object' || typeof inReader.read !== 'function') {
      throw typeError('inReader', 'a reader (an object with read())', inReader);
    }
    this.#reader = inReader;
    this._read = (count, opts) => inReader.read(count, opts);
  }

  /** The input reader. */
  reader(): ItemReader {
    return this.#reader;
  }

  /** Replaces the read function (a pool bypasses its own scheduling with this). */
  setRead(read: ReadFn): void {
    this._read = read;
  }

  /** @internal Attaches the task to a pool (held weakly, as in the seed). */
  setPool(pool: object): void {
    this.#pool = new WeakRef(pool);
  }

  /** The pool the task was added to, or undefined. */
  pool(): object | undefined {
    return this.#pool?.deref();
  }
}

/** The seed's name for a ChannelTask in a thread pool (same class). */
export class ChannelThreadTask extends ChannelTask {}
