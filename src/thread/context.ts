/**
 * The second argument every thread function gets, in the worker: the worker-side view of the
 * seed's `_should_terminate()`. Built in the worker (worker-main.ts) over the shared flag.
 */
import { kFlagIndex, kRun } from './protocol';

/** What a thread function sees of its thread (second argument of every call). */
export interface ThreadContext {
  /** The worker's `threadId`. */
  readonly threadId: number;
  /**
   * The seed's `_should_terminate()`: true once the parent scheduled termination
   * (`scheduleTermination()`, `stopAndJoin()` of a TerminatableThread, `terminateThreads()`).
   * One atomic load: cheap enough for every iteration of a busy loop.
   */
  shouldTerminate(): boolean;
  /**
   * Blocks this worker (Atomics.wait) until termination is scheduled or `timeout` ms pass;
   * returns `shouldTerminate()`. A thread that has nothing to do but wait for its end waits here
   * without polling.
   */
  waitForTermination(timeout?: number): boolean;
  /** Aborted when termination is scheduled (needs an event-loop turn in the worker to fire). */
  readonly signal: AbortSignal;
}

/** Worker side: the context over `flag` (an Int32Array on the shared flag buffer). */
export function makeContext(threadId: number, flag: Int32Array, signal: AbortSignal): ThreadContext {
  return {
    threadId,
    signal,
    shouldTerminate: () => Atomics.load(flag, kFlagIndex) !== kRun,
    waitForTermination(timeout?: number): boolean {
      const ms = timeout === undefined || timeout < 0 || !Number.isFinite(timeout) ? Infinity : timeout;
      const deadline = performance.now() + ms;
      for (;;) {
        if (Atomics.load(flag, kFlagIndex) !== kRun) return true;
        const left = deadline - performance.now();
        if (left <= 0) return false;
        Atomics.wait(flag, kFlagIndex, kRun, left === Infinity ? undefined : left);
      }
    },
  };
}
