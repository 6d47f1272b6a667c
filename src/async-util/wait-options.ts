/**
 * The `{ block, timeout, signal }` options of every async-util and channel wait, validated
 * once in one place. Timeouts are milliseconds: undefined or Infinity waits forever, any other
 * finite number >= 0 is honoured exactly (above 2^31-1 ms too: src/timer.ts chains timers),
 * NaN and negatives are a RangeError. JS thread only.
 */
import { optionsObject, rejectUnknownOptions, validateBoolean, validateSignal, validateTimeout } from '../validate';

export interface WaitOptions {
  /** Wait at all (default true). `block: false` is the same as `timeout: 0`. */
  block?: boolean;
  /** Milliseconds to wait (default: forever). */
  timeout?: number;
  /** Cancels the wait: the promise rejects with an AbortError (`code: 'ABORT_ERR'`). */
  signal?: AbortSignal;
}

export interface ParsedWait {
  block: boolean;
  /** -1: forever. */
  timeout: number;
  signal: AbortSignal | undefined;
}

export const kForever: ParsedWait = Object.freeze({ block: true, timeout: -1, signal: undefined });

/** Validates wait options (throws coded TypeError/RangeError). */
export function parseWait(name: string, options: unknown): ParsedWait {
  if (options === undefined) return kForever;
  const opts = optionsObject(name, options);
  rejectUnknownOptions(name, opts, ['block', 'timeout', 'signal'], { blocking: 'block' });
  const block = opts.block ?? true;
  validateBoolean(`${name}.block`, block);
  const timeout = validateTimeout(`${name}.timeout`, opts.timeout);
  const signal = validateSignal(`${name}.signal`, opts.signal);
  return { block, timeout: block ? timeout : 0, signal };
}
