/**
 * Decision 13's safety net: endpoints are released explicitly (close()/release()/`using`), and
 * one that becomes unreachable without that is released when the garbage collector reclaims it:
 * its queue handles (the last endpoint of a channel in this thread) and, for a writer, its
 * registration in the writer liveness lock. A collected writer is RELEASED, never closed: the
 * stream stays open for other writers (a collected reader or writer cannot have been in use).
 * The held value never references the endpoint (it would never be collected). Runs on the
 * endpoint's JS thread, at a time the GC chooses; a release that throws is ignored (the handles
 * may be closed already).
 */
export const kEndpoints = new FinalizationRegistry<() => void>((release) => {
  try {
    release();
  } catch {
    // Best effort: the thread may be tearing down.
  }
});
