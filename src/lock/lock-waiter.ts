/**
 * The Promise waiters of a per-context lock engine (LockEngine for shared memory, RemoteEngine
 * for a remote backend): a FIFO queue of this context's waits, each ended once - granted, failed
 * or closed by the engine, or timed out / aborted on its own. Runs on the engine's JS thread.
 */
import { Status } from '../addon/status';
import { type LongTimer, setLongTimeout } from '../timer';

/** One queued wait for `token`. */
export interface LockWaiter<O> {
  readonly token: number;
  /** Resolves the wait with `outcome`. */
  settle(outcome: O): void;
  /** Rejects the wait with `err`. */
  fail(err: unknown): void;
}

/**
 * Queues a waiter for `token` at the end of `queue` and returns its promise. After `timeoutMs`
 * (-1: never) or when `signal` aborts, `drop(waiter, Status.Timeout | 'abort')` runs: the engine
 * takes the waiter out of its queue if it is still there and settles it. However the waiter is
 * settled, its timer and its abort listener are removed first. `queued` runs right after the
 * push, inside the Promise executor: the engine starts or joins its acquisition there. If it
 * throws, the waiter leaves the queue (no later grant can go to it) and the promise rejects.
 */
export function queueWaiter<O>(
  queue: LockWaiter<O>[],
  token: number,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  drop: (waiter: LockWaiter<O>, outcome: Status.Timeout | 'abort') => void,
  queued: () => void,
): Promise<O> {
  return new Promise((resolve, reject) => {
    let timer: LongTimer | undefined;
    const onAbort = (): void => drop(waiter, 'abort');
    const cleanup = (): void => {
      timer?.clear();
      signal?.removeEventListener('abort', onAbort);
    };
    const waiter: LockWaiter<O> = {
      token,
      settle: (outcome) => {
        cleanup();
        resolve(outcome);
      },
      fail: (err) => {
        cleanup();
        reject(err);
      },
    };
    queue.push(waiter);
    if (timeoutMs >= 0) timer = setLongTimeout(() => drop(waiter, Status.Timeout), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      queued();
    } catch (err) {
      const i = queue.indexOf(waiter);
      if (i >= 0) queue.splice(i, 1);
      waiter.fail(err);
    }
  });
}
