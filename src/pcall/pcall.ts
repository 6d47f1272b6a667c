/**
 * `Pcall` / `pcall`: pyATS parallel call (SEMANTICS.md §1.2, §1.3, Decisions 1–6). N calls of
 * one or more targets, each in its own child process (or worker thread, or warm pool child),
 * results in call order, child errors re-raised with the remote stack, one deadline that kills.
 *
 * Everything here runs in the parent. The child side is child-main.ts.
 */
import { abortErrorFor, optionsObject, typeError } from '../validate';
import { ClosedError } from '../errors';
import { CallSlot, outcomeOf, type ClockExpiry, type Executor, type Outcome } from './call-slot';
import { appendChildLogs } from './child-logs';
import { ChildProcessException, PcallStartTimeoutError, PcallTimeoutError, type ChildRef } from './errors';
import { encodeHandles } from './handle-codec';
import { OneShotExecutor } from './one-shot';
import { kRunOptionNames, runOptionsOf, type PcallLog, type PcallMode, type RunOptions } from './options';
import { ProcessPool } from './process-pool';
import { serializeWork } from './protocol';
import { PcallTargetError } from './errors';
import { registerErrorClass } from './error-codec';
import { methodOwner, registrationModules, registryVersion } from './lockable-support';
import { setMethodOwnerLookup, targetSpecOf, type Target, type TargetSpec } from './target';
import { zipArgs } from './zip-args';

/** Grace between SIGTERM and SIGKILL when the timeout expires (ms). */
export const kKillGraceMs = 500;

/** One target or a list of them (a list of 2+ is a per-call dimension). */
export type PcallTargets = Target | Iterable<Target>;

/**
 * Options of {@link Pcall} / {@link pcall}. Any key that is not listed here is a keyword
 * argument whose value is an iterable of per-call values (the seed's `**varkwargs`).
 */
export interface PcallOptions {
  /** Positional arguments given to every call, first. */
  cargs?: Iterable<unknown>;
  /** Per-call positional arguments: call i gets `...iargs[i]` after `cargs`. */
  iargs?: Iterable<Iterable<unknown>>;
  /** Keyword arguments given to every call (an object, or a Map with string keys). */
  ckwargs?: Record<string, unknown> | ReadonlyMap<string, unknown>;
  /** Per-call keyword arguments: call i gets `ikwargs[i]` (objects or Maps with string keys). */
  ikwargs?: Iterable<Record<string, unknown> | ReadonlyMap<string, unknown>>;
  /** Per-call keyword arguments by name: call i gets `{ key: varkwargs[key][i] }`. */
  varkwargs?: Record<string, Iterable<unknown>> | ReadonlyMap<string, Iterable<unknown>>;
  /**
   * How long a call's work may run, in ms, measured from the moment its child is about to call
   * the target (child start-up excluded). When one call exceeds it, the pcall stops: SIGTERM,
   * then SIGKILL after 500 ms, then a TimeoutError (`PcallTimeoutError`). Default: none.
   */
  timeout?: number;
  /**
   * Bound on each call's start-up in ms: from handing it to a child (spawn, or dispatch on a
   * pool) until the child is about to call the target (Node start-up, `--require` preloads,
   * loading the target, reopening handles). Exceeded: the pcall stops like a timeout and rejects
   * with `PcallStartTimeoutError` (`SHMSYNC_START_TIMEOUT`). Default 60 000; `Infinity` for none.
   */
  startTimeout?: number;
  /** Cancels the pcall: running children get SIGTERM, then SIGKILL after 500 ms; join() rejects
   * with an AbortError (`cause` = the signal's reason) carrying `.running`, `.results`, `.errors`. */
  signal?: AbortSignal;
  /** `'process'` (default) or `'thread'` (worker_threads). */
  mode?: PcallMode;
  /** Environment of the children (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Node flags of the children (default `[]`). */
  execArgv?: readonly string[];
  /** Working directory of child processes. */
  cwd?: string;
  /** `'inherit'` (default) or `'capture'`: framed child logs appended to stdout on join(). */
  log?: PcallLog;
  /** Capture each child's output into a file in this directory (implies `log: 'capture'`). */
  logDir?: string;
  /** Run on the children of a warm {@link ProcessPool} instead of fresh ones. */
  pool?: ProcessPool;
  /** Keyword arguments with per-call values. */
  [keyword: string]: unknown;
}

const kReserved: ReadonlySet<string> = new Set(kRunOptionNames);

/**
 * Wire forms of function targets already checked (a pool caller ships the same function with
 * every call): the check walks the Lockable registry and the source text. Valid while no class
 * was registered since, and while the function keeps its name.
 */
const specCache = new WeakMap<object, { readonly spec: TargetSpec; readonly version: number }>();

function specOf(label: string, target: Target): TargetSpec {
  if (typeof target !== 'function') return targetSpecOf(label, target);
  const version = registryVersion();
  const hit = specCache.get(target);
  if (
    hit !== undefined &&
    hit.version === version &&
    hit.spec.kind === 'source' &&
    hit.spec.name === (target.name || 'anonymous')
  )
    return hit.spec;
  const spec = targetSpecOf(label, target);
  specCache.set(target, { spec, version });
  return spec;
}
setMethodOwnerLookup(methodOwner);
// A child's PcallTargetError comes back as that class (cause of the ChildProcessException).
registerErrorClass(PcallTargetError);

/**
 * A parallel call. `new Pcall(targets, options)` builds the work list (validating and
 * serialising every argument) and starts nothing; `start()` starts every child; `join()` waits.
 *
 * ```ts
 * const p = new Pcall((x, y) => x + y, { iargs: [[1, 4], [2, 5], [3, 6]] });
 * p.start();
 * await p.join();      // [5, 7, 9]
 * ```
 */
export class Pcall<R = unknown> {
  readonly #slots: CallSlot[];
  readonly #options: RunOptions;
  #executor: (Executor & { logs?: ReadonlyArray<unknown> }) | undefined;
  #joined: Promise<R[]> | undefined;
  #results: R[] | undefined;
  #grace: NodeJS.Timeout | undefined;
  /** Why the pcall was stopped early (and which call's clock expired), and which calls were still running then. */
  #stopped: { cause: ClockExpiry | 'abort'; index: number; running: ChildRef[] } | undefined;
  #unlisten: (() => void) | undefined;

  constructor(targets: PcallTargets, options?: PcallOptions) {
    const opts = optionsObject('options', options);
    this.#options = runOptionsOf(opts, (v) => v instanceof ProcessPool);
    this.#slots = zipArgs(targets, opts, kReserved).map((call) => {
      const spec = specOf(`targets[${call.index}]`, call.target);
      const args = encodeHandles(call.args);
      const modules = [
        ...new Set([
          ...(spec.kind === 'method' ? registrationModules(`targets[${call.index}].object`, [spec.object]) : []),
          ...registrationModules(`the arguments of call ${call.index}`, [args]),
        ]),
      ];
      let payload: Uint8Array;
      try {
        payload = serializeWork({ target: spec, args, modules });
      } catch (err) {
        throw typeError(
          `the arguments of call ${call.index}`,
          `structured-cloneable (${(err as Error).message})`,
          call.args,
        );
      }
      return new CallSlot(call.index, spec, payload);
    });
  }

  /** Number of calls (children) this pcall makes. */
  get size(): number {
    return this.#slots.length;
  }

  /** Starts every child (a pool queues the calls on its children). Calling it again does nothing. */
  start(): this {
    if (this.#executor) return this;
    const signal = this.#options.signal;
    if (signal?.aborted) throw abortErrorFor(signal);
    const pool = this.#options.pool as ProcessPool | undefined;
    if (pool?.closed) throw new ClosedError('the ProcessPool is closed');
    const executor = pool ? pool.createExecutor() : new OneShotExecutor(this.#options);
    this.#executor = executor;
    // Each call runs two clocks (call-slot.ts): start-up from dispatch to the child's "started"
    // report, then its work. Either running out stops the whole pcall, like the seed's deadline.
    const { timeout, startTimeout } = this.#options;
    if (timeout >= 0 || startTimeout >= 0) {
      const expired = (slot: CallSlot, why: ClockExpiry): void => this.#stop(why, slot.index);
      for (const slot of this.#slots) slot.setClocks({ timeout, startTimeout, expired });
    }
    // From here the executor owns the slots: it dispatches them, receives their results while
    // the children run (never join first: pyATS hung on results > 64 KiB) and settles them.
    executor.start(this.#slots);
    if (signal !== undefined) {
      const onAbort = (): void => this.#stop('abort', -1);
      signal.addEventListener('abort', onAbort, { once: true });
      this.#unlisten = () => signal.removeEventListener('abort', onAbort);
    }
    // Every call over: forget the signal even if nobody ever joins.
    if (signal !== undefined) void this.#allSettled().then(() => this.#unlisten?.());
    return this;
  }

  /** A call's clock expired (call `index`) or the signal aborted: stop every call still running (once). */
  #stop(cause: ClockExpiry | 'abort', index: number): void {
    if (this.#stopped || this.#slots.every((s) => s.isSettled)) return;
    this.#stopped = {
      cause,
      index,
      running: this.#slots.filter((s) => !s.isSettled).map((s) => ({ index: s.index, pid: s.pid })),
    };
    this.#executor?.cancelPending();
    this.terminate();
    this.#grace = setTimeout(() => this.kill(), kKillGraceMs);
    void this.#allSettled().then(() => clearTimeout(this.#grace));
  }

  /**
   * Waits for every child, then resolves with the results in call order. Rejects with the
   * {@link ChildProcessException} of the lowest failing index (all failures in `.errors`,
   * partial results in `.results`), or with a {@link PcallTimeoutError} /
   * {@link PcallStartTimeoutError}. Starts the pcall if
   * start() was not called. Every call returns the same promise.
   */
  join(): Promise<R[]> {
    try {
      this.start();
    } catch (err) {
      return Promise.reject(err);
    }
    this.#joined ??= this.#finish();
    return this.#joined;
  }

  #allSettled(): Promise<unknown> {
    return this.#slots.length === 1 ? this.#slots[0].settled : Promise.all(this.#slots.map((s) => s.settled));
  }

  async #finish(): Promise<R[]> {
    await this.#allSettled();
    const logs = this.#executor?.logs;
    if (logs && logs.length > 0) await appendChildLogs(logs as Parameters<typeof appendChildLogs>[0]);
    let outcomes = this.#slots.map(outcomeOf);
    if (outcomes.some((o) => o instanceof Promise)) outcomes = await Promise.all(outcomes);
    return this.#judge(outcomes as Outcome[]);
  }

  #judge(outcomes: readonly Outcome[]): R[] {
    const results = outcomes.map((o) => (o.ok ? o.value : undefined)) as R[];
    const errors = outcomes.map((o) => (o.ok ? undefined : o.error));
    if (this.#stopped?.cause === 'startTimeout') {
      const err = new PcallStartTimeoutError(this.#options.startTimeout, this.#stopped.index, this.#stopped.running);
      err.results = results;
      err.errors = errors;
      throw err;
    }
    if (this.#stopped?.cause === 'timeout') {
      const err = new PcallTimeoutError(this.#options.timeout, this.#stopped.running);
      err.results = results;
      err.errors = errors;
      throw err;
    }
    if (this.#stopped?.cause === 'abort') {
      const err = abortErrorFor(this.#options.signal!);
      Object.assign(err, { running: this.#stopped.running, results, errors });
      throw err;
    }
    const first = errors.find((e): e is ChildProcessException => e !== undefined);
    if (first) {
      // The rejection is a copy of the lowest failure, so the aggregate never contains itself:
      // `err.errors[err.index]` is that failure, whose own `errors` stays empty (before, printing
      // the rejection with tap or util.inspect recursed through err.errors[i] === err).
      const err = new ChildProcessException(first.message, {
        index: first.index,
        pid: first.pid,
        exitCode: first.exitCode,
        signal: first.signal,
        ...(first.cause === undefined ? {} : { cause: first.cause }),
      });
      err.stack = first.stack;
      err.errors = errors;
      err.results = results;
      throw err;
    }
    this.#results = results;
    return results;
  }

  /** The results in call order; undefined until join() has resolved. */
  get results(): R[] | undefined {
    return this.#results;
  }

  /** Pids of the children in call order (thread ids in thread mode); empty before start(). */
  get pids(): number[] {
    return this.#slots.map((s) => s.pid).filter((pid): pid is number => pid !== undefined);
  }

  /**
   * Pids of the children still running a call of this pcall (the seed's `livings`): every call
   * that has a child and has not settled. A call settles once its result was received and its
   * one-shot child has exited, or its child is gone; so this is exactly the set a timeout or an
   * abort at this moment would report as `running`.
   */
  get livings(): number[] {
    return this.#slots
      .filter((s) => s.runner !== undefined && !s.isSettled)
      .map((s) => s.pid)
      .filter((pid): pid is number => pid !== undefined);
  }

  /** SIGTERM to every child still running (worker threads are terminated). */
  terminate(): void {
    this.#executor?.signal('SIGTERM');
  }

  /** SIGKILL to every child still running (worker threads are terminated). */
  kill(): void {
    this.#executor?.signal('SIGKILL');
  }

  /** Kills what still runs and waits for every child to exit; never rejects. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#executor) return;
    this.#executor.cancelPending();
    this.kill();
    await this.join().catch(() => undefined);
  }

  /** `new Pcall(targets, options)`, start(), join(): the results in call order. */
  static pcall<R = unknown>(targets: PcallTargets, options?: PcallOptions): Promise<R[]> {
    try {
      return new Pcall<R>(targets, options).join();
    } catch (err) {
      return Promise.reject(err);
    }
  }
}

/**
 * Calls the targets in parallel children and resolves with their results in call order
 * (`Pcall.pcall`). See {@link PcallOptions} for the argument rules.
 *
 * ```ts
 * await pcall((a, b) => a + b, { iargs: [[1, 4], [2, 5], [3, 6]] });   // [5, 7, 9]
 * await pcall(({ x, y }) => x + y, { x: [1, 2, 3], y: [4, 5, 6] });    // [5, 7, 9]
 * ```
 */
export function pcall<R = unknown>(targets: PcallTargets, options?: PcallOptions): Promise<R[]> {
  return Pcall.pcall<R>(targets, options);
}
