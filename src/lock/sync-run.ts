/**
 * Synchronous runs: telling true recursion of the blocking API from a hold that crossed an
 * `await`. Runs on the calling JS thread; one module instance per JS context (worker threads
 * have their own).
 *
 * The blocking API's holder is the JS thread (kThreadToken, lock-scope.ts), so by itself it
 * cannot tell `f() { m.acquireSync(); g(); }` with `g` re-entering (recursion: fine) from
 * `m.acquireSync(); await io(); m.release()` in one request handler and a second request of the
 * same thread re-entering while the first is suspended (no exclusion at all). What tells them
 * apart is the synchronous run: recursion happens before the stack unwinds, while another task
 * can only start after it.
 *
 * A run is an object, created by the first fresh thread hold taken after the previous run ended
 * and ended by one microtask or nextTick callback queued at that moment (see syncRun): `current`
 * stays the same object for the rest of this synchronous code and the callbacks queued before. A hold
 * records the run it was taken in; a thread re-entry is true recursion only while that run is
 * still current. Cost: one object, one closure, one queueMicrotask and one process.nextTick per
 * run that takes a fresh thread hold,
 * nothing per acquisition after the first of a run, and no async hook.
 *
 * Imprecision, both ways (documented in docs/api.md "Blocking API and async code"):
 * - a task whose continuation was queued before the hold was taken (e.g. two tasks started
 *   together, both resumed in one microtask drain) re-enters inside the run and is not caught;
 * - the holding task itself re-entering with the blocking API after its own `await` is caught
 *   like another task (it should use acquire()/withLock, or the Mutex option reentry: 'thread').
 */

let current: object | null = null;

/**
 * The current synchronous run, starting one (and queueing its end) if none is current. The run
 * ends at whichever comes first of one microtask and one process.nextTick callback queued now:
 * Node runs the nextTick queue before the microtask queue after a macrotask, so a task deferred
 * by the holder with process.nextTick (streams and emitters do) would otherwise run inside the
 * holder's run and re-enter unnoticed; and inside a microtask drain, ticks wait for the drain,
 * so the microtask ends it. Each end clears only its own run.
 */
export function syncRun(): object {
  return current ?? startRun(); // tiny: inlined into every fresh blocking-API acquisition
}

function startRun(): object {
  const run = {};
  const end = (): void => {
    if (current === run) current = null;
  };
  current = run;
  queueMicrotask(end);
  process.nextTick(end);
  return run;
}

/** Whether a hold taken in `run` may be re-entered by the thread now. */
export function sameSyncRun(run: object | null): boolean {
  return run !== null && run === current;
}
