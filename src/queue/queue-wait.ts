/**
 * Promise waits on a queue word through the parker thread (never the libuv threadpool), with
 * timeout and AbortSignal. JS thread only.
 */
import type { NativeQueue } from '../addon/binding';
import { forgetParked, onParked } from '../addon/parker-client';
import { type LongTimer, setLongTimeout } from '../timer';

export type WaitOutcome = 'ready' | 'timeout' | 'abort' | 'closed';

/**
 * Waits for data (`bytes` < 0) or for `bytes` of space, until `deadline` (ms epoch, < 0: none).
 * `closed` is the handle's own signal: close() withdraws every wait of the handle ('closed'),
 * so no wait outlives its handle (a parked wait references the event loop).
 */
export function waitQueue(
  native: NativeQueue,
  bytes: number,
  deadline: number,
  signal: AbortSignal | undefined,
  closed?: AbortSignal,
): Promise<WaitOutcome> {
  const id = bytes < 0 ? native.watchData() : native.watchSpace(bytes);
  if (id === 0) return Promise.resolve('ready');
  return new Promise((resolve) => {
    let timer: LongTimer | undefined;
    const finish = (outcome: WaitOutcome): void => {
      if (timer !== undefined) timer.clear();
      signal?.removeEventListener('abort', onAbort);
      closed?.removeEventListener('abort', onClosed);
      resolve(outcome);
    };
    const withdraw = (outcome: WaitOutcome): void => {
      forgetParked(id);
      native.cancel(id);
      finish(outcome);
    };
    const onAbort = (): void => withdraw('abort');
    const onClosed = (): void => withdraw('closed');
    onParked(id, () => finish('ready'));
    if (deadline >= 0) timer = setLongTimeout(() => withdraw('timeout'), Math.max(0, deadline - Date.now()));
    signal?.addEventListener('abort', onAbort, { once: true });
    closed?.addEventListener('abort', onClosed, { once: true });
  });
}
