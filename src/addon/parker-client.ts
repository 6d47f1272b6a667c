/**
 * Completions of native parker requests (mutex grants, queue watches), dispatched on this JS
 * context's thread. One handler per request id; each completion is delivered at most once.
 * Every parked request must end in exactly one of `dispatch` or `forgetParked`, which keeps
 * the native event-loop reference count (Context::Parked/Unparked) balanced.
 */
import { binding } from './binding';

type Handler = (status: number) => void;
const handlers = new Map<number, Handler>();
/** Requests parked without a loop reference (their native side skipped Context::Parked). */
const unrefHandlers = new Map<number, Handler>();
let installed = false;

function dispatch(requestId: number, status: number): void {
  const unref = unrefHandlers.get(requestId);
  if (unref !== undefined) {
    unrefHandlers.delete(requestId);
    unref(status);
    return;
  }
  const handler = handlers.get(requestId);
  if (handler === undefined) return; // withdrawn after completing: forgetParked handled it
  handlers.delete(requestId);
  binding.unparked();
  handler(status);
}

/** Registers the handler of a request id returned by a native park/watch call. */
export function onParked(requestId: number, handler: Handler): void {
  if (!installed) {
    binding.setGrantHandler(dispatch);
    installed = true;
  }
  handlers.set(requestId, handler);
}

/**
 * Registers the handler of a request that does not keep the event loop alive (its native call
 * did not count it as parked): e.g. RwLock's watch for a steal of a held Web Lock.
 */
export function onParkedUnref(requestId: number, handler: Handler): void {
  ensureDispatcher();
  unrefHandlers.set(requestId, handler);
}

/** Stops waiting for a request's completion (after a native cancel). */
export function forgetParked(requestId: number): void {
  if (unrefHandlers.delete(requestId)) return;
  if (handlers.delete(requestId)) binding.unparked();
}

/** Installs the dispatcher before the first park (the native side needs a handler first). */
export function ensureDispatcher(): void {
  if (!installed) {
    binding.setGrantHandler(dispatch);
    installed = true;
  }
}
