/**
 * In-process observability through `node:diagnostics_channel` (the convention undici and Node's
 * own modules follow). Subscribe by name:
 *
 * ```js
 * const dc = require('node:diagnostics_channel');
 * dc.subscribe('shmsync:lock:granted', ({ name, waitMs }) => histogram.observe({ name }, waitMs));
 * ```
 *
 * Zero cost when nobody subscribes: every hook in the library is `if (xxxTracing()) trace…(…)`,
 * and the check is one `hasSubscribers` read per channel; messages are built, clocks read and
 * queues asked for their depth only when someone listens. Message fields: docs/observability.md.
 * Runs on the JS thread that uses the object (subscribers run synchronously there: keep them
 * short, and never acquire the same lock from a subscriber).
 */
import * as dc from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';

export const channels = {
  lockAcquire: dc.channel('shmsync:lock:acquire'),
  lockGranted: dc.channel('shmsync:lock:granted'),
  lockReleased: dc.channel('shmsync:lock:released'),
  lockOwnerDied: dc.channel('shmsync:lock:ownerDied'),
  queueFull: dc.channel('shmsync:queue:full'),
  queueDrained: dc.channel('shmsync:queue:drained'),
  pcallSpawn: dc.channel('shmsync:pcall:spawn'),
  pcallSettled: dc.channel('shmsync:pcall:settled'),
} as const;

/** The channel names, for `diagnostics_channel.subscribe(name, fn)`. */
export const diagnosticsChannels = {
  lockAcquire: 'shmsync:lock:acquire',
  lockGranted: 'shmsync:lock:granted',
  lockReleased: 'shmsync:lock:released',
  lockOwnerDied: 'shmsync:lock:ownerDied',
  queueFull: 'shmsync:queue:full',
  queueDrained: 'shmsync:queue:drained',
  pcallSpawn: 'shmsync:pcall:spawn',
  pcallSettled: 'shmsync:pcall:settled',
} as const;

// ---- locks -------------------------------------------------------------------------------

/** What a lock hook needs of the engine: its name, its fence, and a place for timestamps. */
export interface TracedLock {
  name: string;
  /** Set by the library when tracing: acquisition start per holder token, and hold start. */
  traceStarts?: Map<number, number>;
  traceHeldSince?: number;
  /** The fence (low word) of the hold traceHeldSince was stamped for. */
  traceHeldFence?: number;
  /**
   * The fence (low word) of the current hold: a fresh acquisition changes it, so it tells the hold
   * traceHeldSince describes from a later one granted while nobody listened (no stamp).
   */
  fenceLo(): number;
}

/** True when any lock channel has a subscriber (the only cost of a lock hook otherwise). */
export function lockTracing(): boolean {
  return (
    channels.lockAcquire.hasSubscribers ||
    channels.lockGranted.hasSubscribers ||
    channels.lockReleased.hasSubscribers ||
    channels.lockOwnerDied.hasSubscribers
  );
}

/** A fresh (not reentrant) acquisition of `lock` by `token` starts. */
export function traceAcquire(lock: TracedLock, token: number, blocking: boolean): void {
  const starts = (lock.traceStarts ??= new Map());
  if (starts.size > 4096) starts.clear(); // abandoned attempts (timeouts) must not pile up
  starts.set(token, performance.now());
  if (channels.lockAcquire.hasSubscribers) channels.lockAcquire.publish({ name: lock.name, blocking });
}

/** `token` now holds `lock` (status 1: recovered from a dead holder). */
export function traceGranted(lock: TracedLock, token: number, ownerDied: boolean): void {
  const now = performance.now();
  const start = lock.traceStarts?.get(token);
  lock.traceStarts?.delete(token);
  lock.traceHeldSince = now;
  lock.traceHeldFence = lock.fenceLo();
  if (channels.lockGranted.hasSubscribers) {
    channels.lockGranted.publish({ name: lock.name, waitMs: start === undefined ? 0 : now - start, ownerDied });
  }
  if (ownerDied && channels.lockOwnerDied.hasSubscribers) channels.lockOwnerDied.publish({ name: lock.name });
}

/**
 * The last level of a hold was released (or the holding handle closed); called before the word
 * is freed, so fenceLo() is still the hold's. A stamp of an earlier hold (left by a release that
 * nobody listened to) is not this hold's start: holdMs is then null, as for any hold granted
 * while nobody listened.
 */
export function traceReleased(lock: TracedLock): void {
  const since = lock.traceHeldFence === lock.fenceLo() ? lock.traceHeldSince : undefined;
  lock.traceHeldSince = undefined;
  if (channels.lockReleased.hasSubscribers) {
    channels.lockReleased.publish({ name: lock.name, holdMs: since === undefined ? null : performance.now() - since });
  }
}

// ---- queues ------------------------------------------------------------------------------

interface QueueInfoSource {
  info(): { size: number; bytesUsed: number; closed: boolean };
  readonly capacity: number;
}

export const queueFullTracing = (): boolean => channels.queueFull.hasSubscribers;
export const queueDrainedTracing = (): boolean => channels.queueDrained.hasSubscribers;

/** A put found the queue full (`waiting`: it will wait for space; false: it gives up). */
export function traceQueueFull(name: string, q: QueueInfoSource, waiting: boolean): void {
  const i = q.info();
  channels.queueFull.publish({ name, size: i.size, bytesUsed: i.bytesUsed, capacity: q.capacity, waiting });
}

/** After a get: publishes when the queue is now empty. */
export function traceQueueDrained(name: string, q: QueueInfoSource): void {
  const i = q.info();
  if (i.size === 0) channels.queueDrained.publish({ name, ended: i.closed }); // native `closed` word = end() ran
}

// ---- pcall -------------------------------------------------------------------------------

export const pcallSpawnTracing = (): boolean => channels.pcallSpawn.hasSubscribers;
export const pcallSettledTracing = (): boolean => channels.pcallSettled.hasSubscribers;

export function tracePcallSpawn(pid: number | undefined, mode: string): void {
  channels.pcallSpawn.publish({ pid: pid ?? null, mode });
}

export function tracePcallSettled(slot: {
  index: number;
  pid: number | undefined;
  startedAt: number;
  message: { ok: boolean } | undefined;
  exit: { code: number | null; signal: string | null } | undefined;
}): void {
  channels.pcallSettled.publish({
    index: slot.index,
    pid: slot.pid ?? null,
    ok: slot.message?.ok === true,
    durationMs: performance.now() - slot.startedAt,
    exitCode: slot.exit?.code ?? null,
    signal: slot.exit?.signal ?? null,
  });
}
