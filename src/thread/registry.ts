/**
 * The live threads of this JavaScript thread (the seed's `threading.enumerate()` filtered on
 * TerminatableThread), and the scopes of `withTerminateThreads`. Parent thread only; no locking
 * needed (one JS thread). Holds only started threads that have not ended: an ended thread
 * removes itself, so nothing here keeps a finished thread alive.
 */

/** What the registry needs of a thread. */
export interface RegisteredThread {
  scheduleTermination(): void;
  stopAndJoin(options?: { timeout?: number }): Promise<unknown>;
}

const live = new Set<RegisteredThread>();
/** Open `withTerminateThreads` scopes: each collects the threads started while it is open. */
const scopes = new Set<Set<RegisteredThread>>();

export function registerThread(t: RegisteredThread): void {
  live.add(t);
  for (const scope of scopes) scope.add(t);
}

export function unregisterThread(t: RegisteredThread): void {
  live.delete(t);
}

/** The live threads (a snapshot). */
export function liveThreads(): RegisteredThread[] {
  return [...live];
}

export function isLive(t: RegisteredThread): boolean {
  return live.has(t);
}

export function openScope(): Set<RegisteredThread> {
  const scope = new Set<RegisteredThread>();
  scopes.add(scope);
  return scope;
}

export function closeScope(scope: Set<RegisteredThread>): RegisteredThread[] {
  scopes.delete(scope);
  return [...scope].filter((t) => live.has(t));
}
