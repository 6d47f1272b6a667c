/**
 * Entry point of every thread of this layer (compiled to dist/thread/worker-main.js), run in a
 * worker thread started by thread-runner.ts. Two modes (workerData.mode):
 *
 * - 'queue' (WorkerThread, the seed's `WorkerThread.run`): calls arrive as messages and run one
 *   at a time, in arrival order; sync results are answered without an extra turn, async ones
 *   awaited. Before each call the termination flag is read; once set, the worker ends and reports
 *   the calls it never started. A `stop` message (the seed's `WorkerThread.stop`) or a call that
 *   throws `StopProcessing` ends it after the calls before it. A call that throws is answered
 *   with the serialized error and the worker goes on with the next (the seed logs and continues).
 * - 'run' (TerminatableThread): one function `fn(arg, ctx)`; its result or error is posted, then
 *   the worker exits.
 *
 * Runs only in the worker thread. Everything the parent sends was built by this layer's parent
 * side; a malformed message is ignored rather than trusted.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { serializeError } from '../pcall/error-codec';
import { decodeHandles, encodeHandles } from '../pcall/handle-codec';
import { explainTargetError, loadTarget, loadTargetSync, type LoadedTarget } from '../pcall/target';
import { makeContext } from './context';
import {
  kFlagIndex,
  kRun,
  kThreadMarker,
  type FromWorker,
  type ThreadTargetSpec,
  type ThreadWorkerData,
  type ToWorker,
} from './protocol';

const data = workerData as ThreadWorkerData | undefined;
if (parentPort === null || data?.marker !== kThreadMarker) {
  process.stderr.write('shmsync: thread/worker-main.js must be started by WorkerThread / TerminatableThread\n');
  process.exit(2);
}
const port = parentPort;
const flag = new Int32Array(data.flag);
const aborter = new AbortController();
const ctx = makeContext(threadId, flag, aborter.signal);
const targetCache = new Map<string, LoadedTarget>();

function post(message: FromWorker): void {
  port.postMessage(message);
}

/** Ends the worker; messages posted before process.exit are delivered before the 'exit' event. */
function end(reason: 'stopped' | 'terminated', unstarted: number[]): never {
  post({ t: 'end', reason, unstarted });
  process.exit(0);
}

/** Posts `value` (handles out of band); a value that cannot be cloned becomes the call's error. */
function postValue(id: number | undefined, value: unknown): void {
  try {
    const envelope = encodeHandles(value);
    post(id === undefined ? { t: 'result', ok: true, value: envelope } : { t: 'done', id, value: envelope });
  } catch (err) {
    postError(id, err);
  }
}

function postError(id: number | undefined, err: unknown): void {
  const error = serializeError(err);
  post(id === undefined ? { t: 'result', ok: false, error } : { t: 'fail', id, error });
}

function isStopProcessing(err: unknown): boolean {
  try {
    return err instanceof Error && err.name === 'StopProcessing';
  } catch {
    return false; // a thrown Proxy whose traps throw: a failure like any other, not a crash
  }
}

if (data.mode === 'run') {
  void runOnce(data.spec as ThreadTargetSpec);
} else {
  serveQueue();
}

// ---- run mode (TerminatableThread) ------------------------------------------------------------

async function runOnce(spec: ThreadTargetSpec): Promise<void> {
  port.on('message', (m: ToWorker) => {
    if (m?.t === 'terminate') aborter.abort();
  });
  let target: LoadedTarget | undefined;
  try {
    target = await loadTarget(spec, targetCache);
    const opened: unknown[] = [];
    const arg = decodeHandles(data!.arg, opened);
    const value = await target.fn.call(target.thisArg, arg, ctx);
    postValue(undefined, value);
  } catch (err) {
    postError(undefined, target ? explainTargetError(err, target, spec) : err);
  }
  process.exit(0);
}

// ---- queue mode (WorkerThread) ----------------------------------------------------------------

interface Call {
  readonly id: number;
  readonly specId: number;
  readonly arg: unknown;
  readonly stop: boolean;
}

function serveQueue(): void {
  const specs = new Map<number, ThreadTargetSpec>();
  const loaded = new Map<number, LoadedTarget>();
  const queue: Call[] = [];
  let head = 0;
  let busy = false;

  port.on('message', (m: ToWorker) => {
    if (m === null || typeof m !== 'object') return;
    if (m.t === 'terminate') {
      aborter.abort();
      if (!busy) pump();
      return;
    }
    if (m.t === 'stop') queue.push({ id: m.id, specId: 0, arg: undefined, stop: true });
    else if (m.t === 'call' && typeof m.id === 'number' && typeof m.specId === 'number') {
      if (m.spec !== undefined) specs.set(m.specId, m.spec);
      queue.push({ id: m.id, specId: m.specId, arg: m.arg, stop: false });
    } else return;
    if (!busy) pump();
  });

  const unstartedIds = (): number[] => queue.slice(head).map((c) => c.id);

  /** Runs queued calls until the queue is empty or a call returns a promise (then resumes after it). */
  function pump(): void {
    busy = true;
    while (head < queue.length) {
      if (Atomics.load(flag, kFlagIndex) !== kRun) end('terminated', unstartedIds());
      const call = queue[head];
      head += 1;
      if (call.stop) {
        post({ t: 'done', id: call.id, value: { value: undefined, handles: [] } });
        end('stopped', unstartedIds());
      }
      const outcome = runCall(call);
      if (outcome !== undefined) {
        outcome.then(pump, pump);
        return;
      }
    }
    // Compact the consumed prefix now and then (the array is the worker's only queue).
    if (head > 1024) {
      queue.splice(0, head);
      head = 0;
    }
    if (Atomics.load(flag, kFlagIndex) !== kRun) end('terminated', []);
    busy = false;
  }

  /** Runs one call; returns a promise only when the target returned one (or must be loaded). */
  function runCall(call: Call): Promise<void> | undefined {
    const spec = specs.get(call.specId);
    if (spec === undefined) {
      postError(call.id, new Error(`shmsync thread: unknown target #${call.specId} (protocol error)`));
      return undefined;
    }
    let target = loaded.get(call.specId);
    if (target === undefined) {
      let sync: LoadedTarget | undefined;
      try {
        sync = loadTargetSync(spec, targetCache);
      } catch (err) {
        postError(call.id, err);
        return undefined;
      }
      if (sync === undefined) {
        return loadTarget(spec, targetCache).then(
          (t) => {
            loaded.set(call.specId, t);
            return invoke(call, t, spec);
          },
          (err) => postError(call.id, err),
        );
      }
      target = sync;
      loaded.set(call.specId, target);
    }
    return invoke(call, target, spec);
  }

  function invoke(call: Call, target: LoadedTarget, spec: ThreadTargetSpec): Promise<void> | undefined {
    const opened: unknown[] = [];
    let value: unknown;
    try {
      value = target.fn.call(target.thisArg, decodeHandles(call.arg, opened), ctx);
    } catch (err) {
      closeAll(opened);
      return settleError(call, err, target, spec);
    }
    if (value !== null && typeof (value as PromiseLike<unknown>)?.then === 'function') {
      return Promise.resolve(value).then(
        (v) => {
          postValue(call.id, v);
          closeAll(opened);
        },
        (err) => {
          closeAll(opened);
          return settleError(call, err, target, spec);
        },
      );
    }
    postValue(call.id, value);
    closeAll(opened);
    return undefined;
  }

  function settleError(call: Call, err: unknown, target: LoadedTarget, spec: ThreadTargetSpec): undefined {
    if (isStopProcessing(err)) {
      post({ t: 'done', id: call.id, value: { value: undefined, handles: [] } });
      end('stopped', unstartedIds());
    }
    postError(call.id, explainTargetError(err, target, spec));
    return undefined;
  }
}

/** Closes the handles a call's argument reopened (each has close()). */
function closeAll(opened: unknown[]): void {
  for (const h of opened) {
    try {
      (h as { close?: () => void }).close?.();
    } catch {
      // already closed by the call
    }
  }
}
