/**
 * The upstream read rules (SEMANTICS §2.3), written once for every channel backend:
 *
 * | mode                       | behaviour |
 * |----------------------------|-----------|
 * | block false                | take up to `count` (count < 1: all present) without waiting |
 * | block, count 0             | take items, waiting for each, until closed (drain) or a per-item wait times out |
 * | block, count >= 1          | loop to `count`; each wait lasts up to `timeout` (per item); on timeout return what was collected; on closed take what is left up to `count` |
 * | closed channel             | never waits; returns what is left (up to count); [] when drained; never throws |
 *
 * An abort (the caller's signal) rejects with AbortError whose `items` holds what this read had
 * already taken (so nothing is lost). JS thread only.
 */
import type { ShmsyncError } from '../errors';

/** Sentinel outcomes of one wait. */
export const kTimedOut = 1;
export const kEnded = 2;
export type WaitOutcome = typeof kTimedOut | typeof kEnded | undefined;

/** A backend as the rules see it. */
export interface RuleSource<T> {
  /** Moves up to `max` ready items to `out` without waiting; never throws for empty/closed. */
  take(out: T[], max: number): void;
  /** True once the stream is closed (then take() returns everything left). */
  isClosed(): boolean;
  /**
   * Waits up to `timeout` ms (-1: forever) for at least one item and moves up to `max` to
   * `out`; returns undefined when it took some, kTimedOut or kEnded otherwise. Rejects with
   * AbortError when `signal` aborts.
   */
  wait(out: T[], max: number, timeout: number, signal: AbortSignal | undefined): Promise<WaitOutcome>;
}

export const kAll = 2 ** 31 - 1;

/** Runs the rules over `src`. `count` and the options are validated by the caller. */
export async function readByRules<T>(
  src: RuleSource<T>,
  count: number,
  block: boolean,
  timeout: number,
  signal: AbortSignal | undefined,
): Promise<T[]> {
  const want = count < 1 ? kAll : count;
  const out: T[] = [];
  src.take(out, want);
  if (!block || out.length >= want || src.isClosed()) return out;
  while (out.length < want) {
    let outcome: WaitOutcome;
    try {
      outcome = await src.wait(out, want - out.length, timeout, signal);
    } catch (err) {
      if (typeof err === 'object' && err !== null && (err as ShmsyncError).code === 'ABORT_ERR') {
        Object.defineProperty(err, 'items', { value: out, enumerable: true, configurable: true });
      }
      throw err;
    }
    if (outcome !== undefined) break; // timed out (return what we have) or closed and drained
    src.take(out, want - out.length);
  }
  return out;
}
