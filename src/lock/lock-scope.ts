/**
 * Holder tokens: who inside one JS context holds a lock.
 *
 * - The blocking API's token is the JS thread itself (kThreadToken), unless the caller runs
 *   inside a lock scope of that mutex, whose token it then shares (async -> sync reentrancy).
 * - A lock scope is an AsyncLocalStorage frame opened by `withLock` and `@Lockable.locked`:
 *   every acquire of the same mutex anywhere in that async call tree is reentrant.
 * - A bare `acquire()` outside any scope gets a fresh token: two concurrent async tasks never
 *   share one (JavaScript gives an async function no identity before its first await, so a
 *   chain-wide token could leak into sibling tasks; scopes are exact instead).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export const kThreadToken = 1;
let nextToken = 2;

export function freshToken(): number {
  return nextToken++;
}

const scopes = new AsyncLocalStorage<Map<object, number>>();
/** Scopes currently open in this context; 0 lets the hot path skip the ALS lookup. */
let openScopes = 0;

/** The token the current scope holds for `lock`, if any. */
export function scopeToken(lock: object): number | undefined {
  return openScopes === 0 ? undefined : scopes.getStore()?.get(lock);
}

/** Runs `fn` (sync or async) in a scope where `lock` is held by `token`. */
export async function runInScope<T>(lock: object, token: number, fn: () => T | Promise<T>): Promise<T> {
  const next = new Map(scopes.getStore());
  next.set(lock, token);
  openScopes += 1;
  try {
    return await scopes.run(next, fn);
  } finally {
    openScopes -= 1;
  }
}

/**
 * Synchronous form of runInScope for the blocking API: calls `fn` now, in a scope where `lock`
 * is held by `token`, and returns its result. The scope stays counted until the caller calls
 * `leave()` (exactly once), so continuations of a promise `fn` returned still see the scope.
 */
export function runInScopeSync<T>(lock: object, token: number, fn: () => T): { result: T; leave: () => void } {
  const next = new Map(scopes.getStore());
  next.set(lock, token);
  openScopes += 1;
  let left = false;
  const leave = (): void => {
    if (left) return;
    left = true;
    openScopes -= 1;
  };
  try {
    return { result: scopes.run(next, fn), leave };
  } catch (err) {
    leave();
    throw err;
  }
}
