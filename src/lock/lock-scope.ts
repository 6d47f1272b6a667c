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
 *
 * Cost to code that does not lock (docs/concepts/lock-protocol.md, "Lock scopes and await"):
 * on Node 20 and 22 AsyncLocalStorage is built on async_hooks, whose promise hooks make every
 * `await` of the process several times slower while they are installed. So the storage is
 * enabled only while scopes are open: when none has been open for kIdleDisableMs, it is
 * disabled, which removes the hooks (Node 24's AsyncLocalStorage has no hooks: nothing to do).
 * Disabling changes nothing a lock can see: scopeToken() already answers "no scope" whenever
 * no scope is open, and enabling again happens in the next scope's `run` before any lookup.
 * Runs on the context's JS thread; one module instance per context.
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

/**
 * Whether this Node's AsyncLocalStorage installs async hooks (Node 20, 22 without
 * --experimental-async-context-frame): the async_hooks implementation has `_propagate`.
 */
const kHookBased = typeof (AsyncLocalStorage.prototype as { _propagate?: unknown })._propagate === 'function';
/**
 * How long no scope must be open before the storage is disabled. Enabling and disabling cost
 * about 4 µs together, so scopes in quick succession keep it enabled; the idle check runs at
 * most once per period.
 */
export const kIdleDisableMs = 20;
let idleTimer: NodeJS.Timeout | null = null;

function opened(): void {
  openScopes += 1;
}

function closed(): void {
  openScopes -= 1;
  if (openScopes === 0 && kHookBased && idleTimer === null) {
    idleTimer = setTimeout(disableIfIdle, kIdleDisableMs);
    idleTimer.unref();
  }
}

function disableIfIdle(): void {
  idleTimer = null;
  // Scopes opened and closed meanwhile are fine: only an open one needs the storage.
  if (openScopes === 0) scopes.disable();
}

/**
 * Test hook: whether the scope storage has promise hooks installed now (always false where
 * AsyncLocalStorage needs none, e.g. Node 24).
 */
export function scopeHooksInstalled(): boolean {
  return kHookBased && (scopes as unknown as { enabled?: boolean }).enabled === true;
}

/** The token the current scope holds for `lock`, if any. Tiny: it is on every acquire and release. */
export function scopeToken(lock: object): number | undefined {
  return openScopes === 0 ? undefined : storedToken(lock);
}

function storedToken(lock: object): number | undefined {
  return scopes.getStore()?.get(lock);
}

/** Runs `fn` (sync or async) in a scope where `lock` is held by `token`. */
export async function runInScope<T>(lock: object, token: number, fn: () => T | Promise<T>): Promise<T> {
  const next = new Map(scopes.getStore());
  next.set(lock, token);
  opened();
  try {
    return await scopes.run(next, fn);
  } finally {
    closed();
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
  opened();
  let left = false;
  const leave = (): void => {
    if (left) return;
    left = true;
    closed();
  };
  try {
    return { result: scopes.run(next, fn), leave };
  } catch (err) {
    leave();
    throw err;
  }
}
