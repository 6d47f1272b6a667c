/**
 * The seed's module functions `do_terminate_threads(whitelist=[])` and the `terminate_threads`
 * decorator. Parent thread only.
 */
import { optionsObject, rejectUnknownOptions, typeError, validateFunction, validateTimeout } from '../validate';
import { closeScope, liveThreads, openScope, type RegisteredThread } from './registry';

/** Options of terminateThreads(). */
export interface TerminateThreadsOptions {
  /** Per thread: milliseconds to end cooperatively before it is killed (default: wait). */
  timeout?: number;
}

/**
 * Seed `do_terminate_threads(whitelist)`: every live TerminatableThread (WorkerThreads included)
 * of this JS thread - only those in `whitelist` when it is non-empty - gets
 * `scheduleTermination()` then `stopAndJoin()`. Resolves when all have ended; a thread's own
 * failure (its run function threw, it was killed) does not reject this.
 */
export async function terminateThreads(
  whitelist: Iterable<RegisteredThread> = [],
  options: TerminateThreadsOptions = {},
): Promise<void> {
  if (whitelist === null || typeof (whitelist as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== 'function')
    throw typeError('whitelist', 'an iterable of threads', whitelist);
  const opts = optionsObject('options', options);
  rejectUnknownOptions('options', opts, ['timeout']);
  const timeout = validateTimeout('options.timeout', opts.timeout);
  const only = new Set(whitelist);
  const targets = liveThreads().filter((t) => only.size === 0 || only.has(t));
  await stopAll(targets, timeout);
}

async function stopAll(threads: RegisteredThread[], timeout: number): Promise<void> {
  for (const t of threads) t.scheduleTermination();
  const joinOptions = timeout >= 0 ? { timeout } : {};
  await Promise.all(threads.map((t) => t.stopAndJoin(joinOptions).catch(() => {})));
}

/**
 * Seed `@terminate_threads`: wraps `fn` so that, when it returns or throws (for an async `fn`:
 * when its promise settles), every thread started while it ran and still alive is terminated
 * (scheduleTermination + stopAndJoin) before the wrapper returns. "Started while it ran" is by
 * time, not by async context: a thread started meanwhile by unrelated code is included, as in
 * the seed (which compared thread lists).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function withTerminateThreads<A extends any[], R>(
  fn: (...args: A) => R,
  options: TerminateThreadsOptions = {},
): (...args: A) => Promise<Awaited<R>> {
  validateFunction('fn', fn);
  const opts = optionsObject('options', options);
  rejectUnknownOptions('options', opts, ['timeout']);
  const timeout = validateTimeout('options.timeout', opts.timeout);
  return async function terminatingThreads(this: unknown, ...args: A): Promise<Awaited<R>> {
    const scope = openScope();
    let closed = false;
    const finish = async (): Promise<void> => {
      if (closed) return;
      closed = true;
      await stopAll(closeScope(scope), timeout);
    };
    try {
      return await fn.apply(this, args);
    } finally {
      await finish();
    }
  };
}
