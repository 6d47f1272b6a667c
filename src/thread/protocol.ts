/**
 * Messages between a thread handle (parent thread: worker-thread.ts, terminatable-thread.ts) and
 * its worker (worker-main.ts), over the worker's parentPort (structured clone, in order).
 *
 * ```
 * parent                                         worker
 *   workerData { mode, flag, spec?, arg? }  ──▶   (start)
 *   { t: 'call', id, specId, spec?, arg }   ──▶   queued; run in order, one at a time
 *   { t: 'stop' }                           ──▶   end after the calls before it
 *   { t: 'terminate' }                      ──▶   wake-up: the flag is set (abort ctx.signal)
 *                                           ◀──   { t: 'done', id, value }   (value: handle envelope)
 *                                           ◀──   { t: 'fail', id, error }   (SerializedError)
 *                                           ◀──   { t: 'result', ok, value | error }  (run mode)
 *                                           ◀──   { t: 'end', reason, unstarted }     then exit
 * ```
 *
 * The termination flag is one Int32 in a SharedArrayBuffer both threads map: 0 = run, 1 = the
 * thread should terminate. The parent stores 1 (seq-cst `Atomics.store`) and notifies; the worker
 * reads it with `Atomics.load` before each call and in `ctx.shouldTerminate()`, so a busy
 * synchronous loop sees it without an event-loop turn. The worker never trusts a message's shape
 * beyond what it checks; the parent only receives from a worker it started.
 */
import type { SerializedError } from '../pcall/error-codec';
import type { HandleEnvelope } from '../pcall/handle-codec';
import type { TargetSpec } from '../pcall/target';

/** Index of the flag in its Int32Array, and its values. */
export const kFlagIndex = 0;
export const kRun = 0;
export const kTerminate = 1;

/** Marker of this layer's workerData (the worker refuses to run without it). */
export const kThreadMarker = 'shmsync-thread/1';

/** A target this layer ships: source or module reference (method targets are pcall-only). */
export type ThreadTargetSpec = Exclude<TargetSpec, { kind: 'method' }>;

export interface ThreadWorkerData {
  readonly marker: typeof kThreadMarker;
  /** 'queue': a WorkerThread serving calls; 'run': a TerminatableThread running one function. */
  readonly mode: 'queue' | 'run';
  readonly flag: SharedArrayBuffer;
  /** Run mode: the function to run and its argument. */
  readonly spec?: ThreadTargetSpec;
  readonly arg?: HandleEnvelope;
}

export type ToWorker =
  | {
      readonly t: 'call';
      readonly id: number;
      readonly specId: number;
      readonly spec?: ThreadTargetSpec;
      readonly arg: HandleEnvelope;
    }
  | { readonly t: 'stop'; readonly id: number }
  | { readonly t: 'terminate' };

export type FromWorker =
  | { readonly t: 'done'; readonly id: number; readonly value: HandleEnvelope }
  | { readonly t: 'fail'; readonly id: number; readonly error: SerializedError }
  | { readonly t: 'result'; readonly ok: true; readonly value: HandleEnvelope }
  | { readonly t: 'result'; readonly ok: false; readonly error: SerializedError }
  | { readonly t: 'end'; readonly reason: 'stopped' | 'terminated'; readonly unstarted: readonly number[] };
