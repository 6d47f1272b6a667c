/**
 * The per-context engine of one RwLock segment, shared by every RwLock handle of that segment
 * in this JS context. Runs on the context's JS thread only.
 *
 * Each holder token (lock-scope.ts: the thread for the blocking API, a scope or a fresh token
 * for the Promise API) owns at most one native entry (`slot`) while it holds; re-entry adds
 * depth. Waiting requests own a slot too (queued in the segment, in request order).
 */
import { forgetParked, onParked } from '../addon/parker-client';
import { Status } from '../addon/status';
import { ownerId } from '../lock/lock-engine';
import { type LongTimer, setLongTimeout } from '../timer';
import { kNoSlot, kTryOnly, type NativeRwLock } from './native';

export type RwMode = 'shared' | 'exclusive';

export interface RwHold {
  slot: number;
  mode: RwMode;
  depth: number;
  ownerDied: boolean;
}

export function isGranted(st: number): st is Status.Ok | Status.OwnerDead {
  return st === Status.Ok || st === Status.OwnerDead;
}

function modeNumber(mode: RwMode): 0 | 1 {
  return mode === 'exclusive' ? 1 : 0;
}

export class RwEngine {
  readonly native: NativeRwLock;
  readonly holds = new Map<number, RwHold>();
  /** Promise waits in flight (they own queued slots). */
  readonly waits = new Set<{ abandon(): void }>();
  refs = 0;

  constructor(native: NativeRwLock) {
    this.native = native;
    ownerId();
  }

  /** One request: granted (slot held), queued (slot) or, with tryOnly, refused (no slot). */
  request(mode: RwMode, flags: number): { status: number; slot: number } {
    const r = this.native.request(modeNumber(mode), flags);
    return { status: r & 0xff, slot: r >>> 8 };
  }

  record(token: number, slot: number, mode: RwMode, status: number): RwHold {
    const hold = { slot, mode, depth: 1, ownerDied: status === Status.OwnerDead };
    this.holds.set(token, hold);
    return hold;
  }

  /** Blocking acquisition for `token` (no hold of it yet). Returns a Status. */
  acquireSync(token: number, mode: RwMode, blocking: boolean, timeoutMs: number): number {
    const wait = blocking && timeoutMs !== 0;
    const r = this.request(mode, wait ? 0 : kTryOnly);
    if (isGranted(r.status)) {
      this.record(token, r.slot, mode, r.status);
      return r.status;
    }
    if (r.status !== Status.WouldBlock || r.slot === kNoSlot) return r.status;
    if (this.holds.size > 0 || this.waits.size > 0) {
      // Another task of this thread holds or awaits the lock: blocking the thread could only
      // deadlock (that task cannot run to release it, or its earlier request is ahead of ours).
      const w = this.native.withdraw(r.slot);
      if (isGranted(w)) {
        this.record(token, r.slot, mode, w);
        return w;
      }
      return Status.Deadlock;
    }
    const st = this.native.wait(r.slot, timeoutMs);
    if (isGranted(st)) this.record(token, r.slot, mode, st);
    return st;
  }

  /** Promise acquisition for `token`: resolves with a Status, 'abort' or 'closed'. */
  acquireAsync(
    token: number,
    mode: RwMode,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    flags = 0,
  ): Promise<number | 'abort' | 'closed'> {
    const r = this.request(mode, flags);
    if (isGranted(r.status)) {
      this.record(token, r.slot, mode, r.status);
      return Promise.resolve(r.status);
    }
    if (r.status !== Status.WouldBlock || r.slot === kNoSlot) return Promise.resolve(r.status);
    if (timeoutMs === 0) return Promise.resolve(this.giveUp(r.slot, Status.Timeout));
    const slot = r.slot;
    return new Promise((resolve) => {
      let timer: LongTimer | undefined;
      let ids: number[] = [];
      let done = false;
      const cancelWatches = (): void => {
        for (const id of ids) {
          forgetParked(id);
          this.native.cancel(id);
        }
        ids = [];
      };
      const finish = (outcome: number | 'abort' | 'closed'): void => {
        if (done) return;
        done = true;
        this.waits.delete(wait);
        cancelWatches();
        if (timer !== undefined) timer.clear();
        signal?.removeEventListener('abort', onAbort);
        if (typeof outcome === 'number' && isGranted(outcome)) this.record(token, slot, mode, outcome);
        resolve(outcome);
      };
      const giveUp = (why: number | 'abort' | 'closed'): void => {
        if (done) return;
        cancelWatches();
        const g = this.giveUp(slot, why);
        finish(g);
      };
      const wait = { abandon: () => giveUp('closed') };
      const onAbort = (): void => giveUp('abort');
      const round = (): void => {
        if (done) return;
        cancelWatches();
        const [st, ...watchIds] = this.native.watch(slot);
        if (st !== Status.WouldBlock) {
          finish(st);
          return;
        }
        ids = watchIds.filter((id) => id !== 0);
        for (const id of ids) onParked(id, round);
      };
      this.waits.add(wait);
      if (timeoutMs > 0) timer = setLongTimeout(() => giveUp(Status.Timeout), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      round();
    });
  }

  /**
   * Withdraws a queued slot. If it was granted meanwhile, the grant is given back (the caller
   * gave up: a timed-out or aborted request never holds the lock).
   */
  private giveUp<T>(slot: number, why: T): T {
    const w = this.native.withdraw(slot);
    if (isGranted(w)) this.native.release(slot);
    return why;
  }

  /** Releases one level of `token`'s hold. Returns NotOwner if it holds nothing. */
  release(token: number): number {
    const h = this.holds.get(token);
    if (h === undefined) return Status.NotOwner;
    if (h.depth > 1) {
      h.depth -= 1;
      return Status.Ok;
    }
    this.holds.delete(token);
    return this.native.release(h.slot);
  }

  /** Last handle of the context closed: give every hold back, fail the waits. */
  shutdown(): void {
    for (const w of [...this.waits]) w.abandon();
    for (const h of this.holds.values()) this.native.release(h.slot);
    this.holds.clear();
    this.native.close();
  }
}
