/**
 * The per-context lock engine: one per (JS context, mutex segment), shared by every Mutex
 * handle of that segment in the context. Runs on the context's JS thread only.
 *
 * State machine of one engine:
 *   holder  - token holding the lock in this context (0: this context does not hold it)
 *   queue   - Promise waiters of this context, FIFO
 *   parkId  - the one native parker request acting for this context (0: none)
 * Invariant: parkId !== 0 only while holder === 0 and queue is non-empty. A grant from the
 * parker means the lock is now held by this context; it goes to the first queued waiter.
 *
 * Fast paths use Atomics on an Int32Array over the mapped MutexState (no N-API call, no
 * syscall); everything else (waiters bit, hand-off, dead owners, strict policy) is native.
 */
import { threadId } from 'node:worker_threads';
import { binding, type NativeMutex } from '../addon/binding';
import * as L from './mutex-layout';
import { ensureDispatcher, forgetParked, onParked } from '../addon/parker-client';
import { kThreadToken } from './lock-scope';
import { Status } from '../addon/status';
import { lockTracing, traceAcquire, traceGranted, traceReleased, type TracedLock } from '../diagnostics';
import { syncRun } from './sync-run';
import { type LongTimer, setLongTimeout } from '../timer';

let contextOwnerId = 0;
/**
 * This context's OwnerId, claimed on first use with Node's threadId recorded in the owner table
 * (info().holder.threadId). Call it before the first native Mutex is constructed: the native
 * constructor claims the id too, without knowing the threadId.
 */
export function ownerId(): number {
  if (contextOwnerId === 0) contextOwnerId = binding.ownerId(threadId);
  return contextOwnerId;
}

interface Waiter {
  token: number;
  settle(status: Status | 'abort' | 'closed'): void;
}

export function isAcquired(status: Status | -1): status is Status.Ok | Status.OwnerDead {
  return status === Status.Ok || status === Status.OwnerDead;
}

export class LockEngine implements TracedLock {
  /** The mutex's logical name (diagnostics messages); set by the Mutex that creates the engine. */
  name = '';
  traceStarts?: Map<number, number>;
  traceHeldSince?: number;
  readonly native: NativeMutex;
  readonly i32: Int32Array | null;
  readonly me: number;
  holder = 0;
  depth = 0;
  ownerDied = false;
  /**
   * The synchronous run (sync-run.ts) in which the thread (kThreadToken) took its current hold,
   * set by take(); read by mutex.ts, meaningful only while holder === kThreadToken.
   */
  syncRun: object | null = null;
  refs = 0;
  readonly queue: Waiter[] = [];
  parkId = 0;
  /** Called with the engine when a hold was recovered from a dead owner. */
  onOwnerDeath: (() => void) | null = null;

  constructor(native: NativeMutex) {
    this.native = native;
    this.me = ownerId();
    const ab = native.state();
    this.i32 = ab === undefined ? null : new Int32Array(ab, 0, L.kStateInt32s);
    ensureDispatcher();
  }

  /** Uncontended CAS from JS. True: this context now holds the word (bookkeeping done). */
  tryFast(): boolean {
    const i32 = this.i32;
    if (i32 === null || Atomics.load(i32, L.kHandoff) !== 0) return false;
    if (Atomics.compareExchange(i32, L.kWord, 0, this.me) !== 0) return false;
    if (i32[L.kConsistency] !== 0) {
      // Strict-policy state: let the native path apply the rules.
      this.native.unlock();
      return false;
    }
    // Holder-only fields: ordered by the CAS above and the release below.
    const lo = (i32[L.kFenceLo] + 1) | 0;
    i32[L.kFenceLo] = lo;
    if (lo === 0) i32[L.kFenceHi] = (i32[L.kFenceHi] + 1) | 0;
    i32[L.kDepth] = 1;
    return true;
  }

  /** Records that `token` now holds the lock (fresh acquisition with `status`). */
  take(token: number, status: Status): void {
    this.holder = token;
    this.depth = 1;
    if (token === kThreadToken) this.syncRun = syncRun();
    this.ownerDied = status === Status.OwnerDead;
    if (lockTracing()) traceGranted(this, token, this.ownerDied);
    if (this.ownerDied && this.onOwnerDeath !== null) this.onOwnerDeath();
  }

  reenter(): void {
    this.depth += 1;
    if (this.i32 !== null) this.i32[L.kDepth] = this.depth;
  }

  /** Blocking-API acquisition for `token`. Returns a Status (Deadlock/WouldBlock/Timeout...). */
  acquireSync(token: number, blocking: boolean, timeoutMs: number): Status {
    if (this.holder === token) {
      this.reenter();
      return Status.Ok;
    }
    if (this.holder !== 0) return blocking && timeoutMs !== 0 ? Status.Deadlock : Status.WouldBlock;
    if (lockTracing()) traceAcquire(this, token, true);
    if (this.parkId !== 0) {
      // A grant may be in flight for our async waiters: take it now rather than wait for it.
      const r = this.cancelPark();
      if (r >= 0 && isAcquired(r)) {
        this.take(token, r);
        return r;
      }
    }
    if (this.tryFast()) {
      this.take(token, Status.Ok);
      return Status.Ok;
    }
    let st = (blocking && timeoutMs !== 0 ? this.native.lock(timeoutMs) : this.native.tryLock()) as Status;
    // Busy: the word names this context although no token holds it (holder === 0 here).
    if (st === Status.Busy) st = this.adoptOrphan();
    if (isAcquired(st)) {
      this.take(token, st);
      return st;
    }
    // Not acquired: the park withdrawn above must not leave this context's Promise waiters
    // queued with nobody waiting for them (they would never be granted).
    this.serveQueue();
    return st === Status.Busy ? Status.Deadlock : st;
  }

  /** Promise-API acquisition; resolves with a Status, 'abort' or 'closed'. */
  acquireAsync(
    token: number,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<Status | 'abort' | 'closed'> {
    if (this.holder === 0 && this.queue.length === 0 && this.parkId === 0) {
      if (this.tryFast()) {
        this.take(token, Status.Ok);
        return Promise.resolve(Status.Ok);
      }
      let st = this.native.tryLock() as Status;
      if (st === Status.Busy) st = this.adoptOrphan(); // no token holds it: an orphaned grant
      if (isAcquired(st)) this.take(token, st);
      if (st !== Status.WouldBlock) return Promise.resolve(st);
      if (timeoutMs === 0) return Promise.resolve(Status.Timeout);
    }
    return new Promise((resolve) => {
      let timer: LongTimer | undefined;
      const onAbort = (): void => this.drop(waiter, 'abort');
      const waiter: Waiter = {
        token,
        settle: (outcome) => {
          if (timer !== undefined) timer.clear();
          signal?.removeEventListener('abort', onAbort);
          resolve(outcome);
        },
      };
      this.queue.push(waiter);
      if (timeoutMs >= 0) timer = setLongTimeout(() => this.drop(waiter, Status.Timeout), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (this.holder === 0 && this.parkId === 0) this.park();
    });
  }

  /** Releases one level of `token`'s hold. Returns NotOwner if `token` does not hold it. */
  release(token: number): Status {
    if (this.holder !== token || token === 0) return Status.NotOwner;
    if (this.depth > 1) {
      this.depth -= 1;
      if (this.i32 !== null) this.i32[L.kDepth] = this.depth;
      return Status.Ok;
    }
    this.holder = 0;
    this.depth = 0;
    this.ownerDied = false;
    if (lockTracing()) traceReleased(this);
    const st = this.unlockWord();
    this.serveQueue();
    return st;
  }

  /**
   * The lock word names this context but no token of it holds the lock: a grant this engine was
   * never told about (e.g. a forged or recovered word). Takes it over with the native
   * acquisition bookkeeping; the caller then uses it like a fresh acquisition.
   */
  private adoptOrphan(): Status {
    const st = this.native.adopt() as Status;
    return st === Status.NotOwner ? Status.WouldBlock : st;
  }

  markConsistent(): Status {
    return this.native.markConsistent() as Status;
  }

  /** Parker completion for this engine's request (JS thread). */
  granted(requestId: number, status: Status): void {
    if (this.parkId !== requestId) {
      // Not the request this engine waits for (it was withdrawn after completing): a grant must
      // not stay held by nobody. Unreachable while cancelPark consumes every completion.
      if (isAcquired(status) && this.holder === 0 && this.parkId === 0) this.grantNext(status);
      return;
    }
    this.parkId = 0;
    if (isAcquired(status)) this.grantNext(status);
    else this.failAll(status);
  }

  /** Last handle closed: give the lock back, fail the waiters, cancel the park. */
  shutdown(): void {
    if (this.parkId !== 0) {
      const r = this.cancelPark();
      if (r >= 0 && isAcquired(r)) this.native.unlock();
    }
    for (const w of this.queue.splice(0)) w.settle('closed');
    if (this.holder !== 0) {
      this.holder = 0;
      this.depth = 0;
      if (lockTracing()) traceReleased(this);
      this.unlockWord();
    }
    this.native.close();
  }

  private unlockWord(): Status {
    const i32 = this.i32;
    if (i32 !== null && i32[L.kHandoff] === 0 && i32[L.kConsistency] === 0) {
      i32[L.kDepth] = 0;
      // Succeeds only when no waiter bit is set: then nobody needs a wake.
      if (Atomics.compareExchange(i32, L.kWord, this.me, 0) === this.me) return Status.Ok;
    }
    return this.native.unlock() as Status;
  }

  /** After a release: let the next local waiter in, fairly with other contexts. */
  private serveQueue(): void {
    if (this.queue.length === 0 || this.holder !== 0 || this.parkId !== 0) return;
    // Nobody else waits: take it at once. Otherwise queue behind them through the parker.
    if (this.i32 !== null && Atomics.load(this.i32, L.kWaiters) === 0 && this.tryFast()) {
      this.grantNext(Status.Ok);
      return;
    }
    this.park();
  }

  private grantNext(status: Status): void {
    const w = this.queue.shift();
    if (w === undefined) {
      this.unlockWord();
      return;
    }
    this.take(w.token, status);
    w.settle(status);
  }

  private failAll(status: Status): void {
    for (const w of this.queue.splice(0)) w.settle(status);
  }

  private drop(w: Waiter, outcome: Status | 'abort'): void {
    const i = this.queue.indexOf(w);
    if (i < 0) return;
    this.queue.splice(i, 1);
    if (this.queue.length === 0 && this.parkId !== 0) {
      const r = this.cancelPark();
      if (r >= 0 && isAcquired(r)) this.unlockWord(); // granted to nobody: give it back
    }
    w.settle(outcome);
  }

  private park(): void {
    const id = this.native.park();
    this.parkId = id;
    onParked(id, (status) => this.granted(id, status as Status));
  }

  /** Withdraws the park. Returns -1 if withdrawn, else the Status it had completed with. */
  private cancelPark(): Status | -1 {
    const id = this.parkId;
    this.parkId = 0;
    forgetParked(id);
    return this.native.cancel(id) as Status | -1;
  }
}
