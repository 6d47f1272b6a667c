/**
 * Error classes of the pcall layer (pyATS `pyats.async_.exceptions`), built on ShmsyncError so
 * `instanceof` works across duplicate installs (brand / code check in src/errors.ts).
 *
 * The chain a failed child produces (SEMANTICS.md Decision 4):
 *
 * ```
 * ChildProcessException (parent: which child, pid, exit code / signal)
 *   └─ cause: the child's error, rebuilt (same name, message, code, own properties)
 *        └─ cause: RemoteException (the child's stack text)
 * ```
 *
 * All classes here are constructed in the parent process.
 */
import { ShmsyncError, TimeoutError, type ShmsyncErrorOptions } from '../errors';

/** Identifies one child of a call: its index in call order and its pid (thread id in thread mode). */
export interface ChildRef {
  /** Index of the call (argument order, the position of its result). */
  readonly index: number;
  /** Process id (process mode) or worker thread id (thread mode); undefined if it never started. */
  readonly pid: number | undefined;
}

/** Options of {@link ChildProcessException}. */
export interface ChildProcessExceptionOptions extends ShmsyncErrorOptions {
  index: number;
  pid?: number | undefined;
  exitCode?: number | null;
  signal?: NodeJS.Signals | null;
}

/**
 * A child of a pcall failed: its target threw (`cause` is the rebuilt error), or the child died
 * without sending a result (`exitCode` / `signal` say how). Code `SHMSYNC_CHILD_PROCESS`.
 *
 * The exception `Pcall.join()` rejects with (the one of the lowest failing index) also carries
 * `errors` (every failure, by index) and `results` (the partial results, by index).
 */
export class ChildProcessException extends ShmsyncError {
  static override readonly code = 'SHMSYNC_CHILD_PROCESS';
  /** Index of the failed call. */
  readonly index: number;
  /** Pid (or thread id) of the child that ran it. */
  readonly pid: number | undefined;
  /** Exit code when the child died without a result; null when it was killed or it threw. */
  readonly exitCode: number | null;
  /** Signal that killed the child without a result; null otherwise. */
  readonly signal: NodeJS.Signals | null;
  /** Every failure of the call, by index (undefined where the call succeeded). Set on the rejection. */
  errors: ReadonlyArray<ChildProcessException | undefined> = [];
  /** Results by index; undefined where the call failed. Set on the rejection. */
  results: ReadonlyArray<unknown> = [];

  constructor(message: string, options: ChildProcessExceptionOptions) {
    super(message, ChildProcessException.code, options);
    this.index = options.index;
    this.pid = options.pid;
    this.exitCode = options.exitCode ?? null;
    this.signal = options.signal ?? null;
  }
}

/**
 * The stack text of an error as it was in the child process (the seed's RemoteException /
 * CPython's RemoteTraceback). It is the `cause` of every rebuilt child error. Code
 * `SHMSYNC_REMOTE`.
 */
export class RemoteException extends ShmsyncError {
  static override readonly code = 'SHMSYNC_REMOTE';
  /** The child's `error.stack`, verbatim. */
  readonly remoteStack: string;
  /** Pid (or thread id) of the child the stack comes from. */
  readonly pid: number | undefined;

  constructor(remoteStack: string, options: ShmsyncErrorOptions & { pid?: number | undefined } = {}) {
    const where = options.pid === undefined ? 'child' : `child ${options.pid}`;
    super(`stack in ${where}:\n${remoteStack}`, RemoteException.code, options);
    this.remoteStack = remoteStack;
    this.pid = options.pid;
    // The local frames (where the parent rebuilt the error) say nothing; show only the remote ones.
    this.stack = `${this.name}: ${this.message}`;
  }
}

/**
 * `Pcall.join()` rejects with this when a call's work ran longer than `options.timeout` (measured
 * from the moment its child reported it was about to call the target): every live child got
 * SIGTERM, then SIGKILL after a short grace. A {@link TimeoutError} (code `SHMSYNC_TIMEOUT`, `name`
 * `'TimeoutError'`) that lists the children that were still running.
 */
export class PcallTimeoutError extends TimeoutError {
  /** The children still running at the deadline, in index order. */
  readonly running: ReadonlyArray<ChildRef>;
  /** The timeout, in milliseconds. */
  readonly timeout: number;
  /** Results of the children that finished in time, by index (undefined elsewhere). */
  results: ReadonlyArray<unknown> = [];
  /** Every failure by index, including the children killed at the deadline (with their `signal`). */
  errors: ReadonlyArray<ChildProcessException | undefined> = [];

  constructor(timeout: number, running: ReadonlyArray<ChildRef>) {
    const list = running.map((c) => `#${c.index} (pid ${c.pid ?? 'none'})`).join(', ');
    super(`pcall timed out: a call ran longer than ${timeout} ms; still running: ${list || 'none'}`);
    this.timeout = timeout;
    this.running = running;
  }

  override get name(): string {
    return 'TimeoutError';
  }

  // TimeoutError's own check matches any SHMSYNC_TIMEOUT; this class also needs `running`.
  static override [Symbol.hasInstance](value: unknown): boolean {
    return value instanceof TimeoutError && Array.isArray((value as { running?: unknown }).running);
  }
}

/**
 * `Pcall.join()` rejects with this when a call's child did not start its target within
 * `options.startTimeout` (Node start-up, `--require` preloads, loading the target module and
 * reopening handle arguments): the pcall is stopped like an expired timeout. Code
 * `SHMSYNC_START_TIMEOUT`. `running` lists the calls that were still running or starting.
 */
export class PcallStartTimeoutError extends ShmsyncError {
  static override readonly code = 'SHMSYNC_START_TIMEOUT';
  /** The calls still running (or starting) when the pcall was stopped, in index order. */
  readonly running: ReadonlyArray<ChildRef>;
  /** The start-up bound, in milliseconds. */
  readonly startTimeout: number;
  /** The call whose child did not start in time. */
  readonly index: number;
  /** Results of the calls that finished, by index (undefined elsewhere). */
  results: ReadonlyArray<unknown> = [];
  /** Every failure by index, including the children stopped. */
  errors: ReadonlyArray<ChildProcessException | undefined> = [];

  constructor(startTimeout: number, index: number, running: ReadonlyArray<ChildRef>) {
    const list = running.map((c) => `#${c.index} (pid ${c.pid ?? 'none'})`).join(', ');
    super(
      `pcall call ${index} did not start its target within startTimeout ${startTimeout} ms ` +
        `(child start-up, preloads, loading the target); stopped: ${list || 'none'}`,
      PcallStartTimeoutError.code,
    );
    this.startTimeout = startTimeout;
    this.index = index;
    this.running = running;
  }
}

/**
 * Thrown in a pcall child when the call's target cannot be built there: a method target's object
 * did not arrive as its registered class (the class is not registered in the child), it has no
 * such method, or a module that registers a Lockable class the call uses could not be loaded.
 * Reaches the parent as the `cause` of the call's {@link ChildProcessException}. Code
 * `SHMSYNC_PCALL_TARGET`.
 */
export class PcallTargetError extends ShmsyncError {
  static override readonly code = 'SHMSYNC_PCALL_TARGET';

  constructor(message: string, options: ShmsyncErrorOptions = {}) {
    super(message, PcallTargetError.code, options);
  }
}
