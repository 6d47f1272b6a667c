/**
 * Completions of native parker requests (mutex grants, queue watches), dispatched on this JS
 * context's thread. One handler per request id; each completion is delivered at most once.
 *
 * The native side counts outstanding requests itself (native/addon/context.h): it keeps the
 * event loop referenced exactly while a request is parked and counts it down when the
 * completion is delivered or the request is cancelled. Nothing here calls back into native.
 * `dispatch` is handed to the addon once, by binding.ts's `init()` handshake at load.
 */

type Handler = (status: number) => void;

/**
 * The handler tables are shared by every copy of this module in the JS context (a bundle that
 * inlines the library next to the package, a test runner's fresh module registry, two paths to
 * one install): they all load the one native addon instance of this context, whose init() keeps
 * only the dispatcher registered last. With per-copy tables that dispatcher found no handler for
 * a request another copy parked, dropped its completion, and the awaiting code never resumed;
 * once nothing else was outstanding, the process exited with the wait pending. The registry lives
 * on this context's global object (each worker has its own), under a versioned key.
 */
interface HandlerTables {
  readonly handlers: Map<number, Handler>;
  /** Requests parked without a loop reference (native: Context::ParkedUnref). */
  readonly unrefHandlers: Map<number, Handler>;
}
const kTables = Symbol.for('shmsync.parker-client.handlers.v1');
const registry = globalThis as unknown as Record<symbol, HandlerTables | undefined>;
const tables: HandlerTables = (registry[kTables] ??= { handlers: new Map(), unrefHandlers: new Map() });
const { handlers, unrefHandlers } = tables;

/** Native → JS: request `requestId` completed with `status` (called by the addon only). */
export function dispatch(requestId: number, status: number): void {
  const unref = unrefHandlers.get(requestId);
  if (unref !== undefined) {
    unrefHandlers.delete(requestId);
    unref(status);
    return;
  }
  const handler = handlers.get(requestId);
  if (handler === undefined) return; // withdrawn after completing: its cancel handled it
  handlers.delete(requestId);
  handler(status);
}

/** Registers the handler of a request id returned by a native park/watch call. */
export function onParked(requestId: number, handler: Handler): void {
  handlers.set(requestId, handler);
}

/**
 * Registers the handler of a request that does not keep the event loop alive (its native call
 * registered it with Context::ParkedUnref): e.g. RwLock's watch for a steal of a held Web Lock.
 */
export function onParkedUnref(requestId: number, handler: Handler): void {
  unrefHandlers.set(requestId, handler);
}

/** Stops waiting for a request's completion (before or after its native cancel). */
export function forgetParked(requestId: number): void {
  if (unrefHandlers.delete(requestId)) return;
  handlers.delete(requestId);
}

/** Handlers registered and not yet settled (tests). */
export function parkedCount(): number {
  return handlers.size;
}
