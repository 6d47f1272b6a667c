/**
 * Error classes of the thread layer (async seed `async.thread`). Constructed in the parent thread
 * (the one that owns the WorkerThread / TerminatableThread), never in the worker.
 */
import { ShmsyncError, type ShmsyncErrorOptions } from '../errors';

/** How a worker thread ended. */
export type ThreadEndReason =
  /** A `WorkerThread.stop` message (or `stopAndJoin()`) ended it after the calls before it. */
  | 'stopped'
  /** It saw its termination flag (`scheduleTermination()`, `terminateThreads()`) and ended. */
  | 'terminated'
  /** `kill()` (or a `stopAndJoin({ timeout })` that ran out) stopped it with `worker.terminate()`. */
  | 'killed'
  /** An uncaught exception in the worker (outside a call), or it could not start. */
  | 'crashed'
  /** It ended by itself (its run function returned, or `process.exit()` in the worker). */
  | 'exited';

/** Options of {@link ThreadExitedError}. */
export interface ThreadExitedErrorOptions extends ShmsyncErrorOptions {
  reason: ThreadEndReason;
  /** Whether the call had started running in the worker when the thread ended. */
  started: boolean;
  threadId: number | undefined;
  exitCode?: number | null;
}

/**
 * A call queued on a {@link WorkerThread} did not complete because the worker thread ended
 * before or while running it: killed mid-call (`started: true`), or stopped / terminated /
 * crashed with the call still queued (`started: false`). The promise of every such call rejects
 * with this error; none is left pending. Code `SHMSYNC_THREAD_EXITED`.
 */
export class ThreadExitedError extends ShmsyncError {
  static override readonly code = 'SHMSYNC_THREAD_EXITED';
  /** Why the thread ended. */
  readonly reason: ThreadEndReason;
  /** True when the call was running (a kill mid-call), false when it was still queued. */
  readonly started: boolean;
  /** The worker's `threadId` (undefined if it never started). */
  readonly threadId: number | undefined;
  /** The worker's exit code (null when killed). */
  readonly exitCode: number | null;

  constructor(message: string, options: ThreadExitedErrorOptions) {
    super(message, ThreadExitedError.code, options);
    this.reason = options.reason;
    this.started = options.started;
    this.threadId = options.threadId;
    this.exitCode = options.exitCode ?? null;
  }
}

/**
 * The seed's `StopProcessing`: a call that throws an error named `StopProcessing` (an instance
 * of this class, or any error with that `name`) ends its WorkerThread after that call, like the
 * `WorkerThread.stop` message. Its own promise resolves with `undefined`.
 */
export class StopProcessing extends Error {
  override get name(): string {
    return 'StopProcessing';
  }
}
