/**
 * Timers for wait timeouts. `setTimeout` turns any delay above 2^31-1 ms (about 24.8 days) into
 * 1 ms, so a Promise wait with a larger timeout would time out at once: these chain timers
 * instead. JS thread only.
 */

/** The largest delay `setTimeout` honours. */
export const kMaxTimerDelayMs = 2 ** 31 - 1;

export interface LongTimer {
  clear(): void;
}

/** Calls `fn` once after `ms` milliseconds (any finite ms >= 0), like setTimeout without the clamp. */
export function setLongTimeout(fn: () => void, ms: number): LongTimer {
  let handle: NodeJS.Timeout;
  const arm = (left: number): void => {
    handle =
      left > kMaxTimerDelayMs ? setTimeout(() => arm(left - kMaxTimerDelayMs), kMaxTimerDelayMs) : setTimeout(fn, left);
  };
  arm(ms);
  return { clear: () => clearTimeout(handle) };
}
