/**
 * The per-context lock engine: one per (JS context, mutex segment), shared by every Mutex
 * handle of that segment in the context. Runs on the context's JS thread only. It owns the
 * lock-word protocol of its context (docs/concepts/lock-protocol.md); the Mutex facade and the
 * guards use only the methods below, never its fields.
 *
 * State machine of one engine (all private):
 *   holder  - token holding the lock in this context (0: this context does not hold it)
 *   depth   - reentrancy depth of that hold
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
import { forgetParked, onParked } from '../addon/parker-client';
import { kThreadToken } from './lock-scope';
import { Status } from '../addon/status';
import { lockTracing, traceAcquire, traceGranted, traceReleased, type TracedLock } from '../diagnostics';
import { watchLockTracing } from './lock-tracing';
import { sameSyncRun, syncRun } from './sync-run';
import { queueWaiter, type LockWaiter } from './lock-waiter';
import { leaseHandoff } from '../addon/lifetime';

// Layout indexes as module constants (one context load each on the fast paths).
const { kWord, kHandoff, kConsistency, kFenceLo, kFenceHi, kDepth, kWaiters } = L;

// Whether the fast paths must take the traced path (lock-tracing.ts keeps these exact).
let grantTraced = true;
let releaseTraced = true;
watchLockTracing((grant, release) => {
  grantTraced = grant;
  releaseTraced = release;
});

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

/** A Promise waiter of this context (it is never failed: errors settle it with a Status). */
type Waiter = LockWaiter<Status | 'abort' | 'closed'>;

export function isAcquired(status: Status | -1): status is Status.Ok | Status.OwnerDead {
  return status === Status.Ok || status === Status.OwnerDead;
}

/** What `info()` reports: the native view of the word, corrected by this context's own state. */
export interface EngineInfo {
  locked: boolean;
  holderPid: number;
  holderThreadId: number;
  holderAlive: boolean;
  depth: number;
  waiters: number;
  acquisitions: bigint;
  ownerDeaths: number;
  consistency: number;
}

export class LockEngine implements TracedLock {
  /** The mutex's logical name (diagnostics messages). */
  readonly name: string;
  /** @internal diagnostics.ts bookkeeping (TracedLock), only while someone subscribes. */
  traceStarts?: Map<number, number>;
  /** @internal diagnostics.ts bookkeeping (TracedLock). */
  traceHeldSince?: number;
  /** @internal diagnostics.ts bookkeeping (TracedLock). */
  traceHeldFence?: number;
  private readonly native: NativeMutex;
  private readonly i32: Int32Array | null;
  private readonly me: number;
  private holder = 0;
  private depth = 0;
  private ownerDied = false;
  /**
   * The synchronous run (sync-run.ts) in which the thread (kThreadToken) took its current hold;
   * meaningful only while holder === kThreadToken.
   */
  private syncRun: object | null = null;
  private refs = 0;
  private readonly queue: Waiter[] = [];
  private parkId = 0;
  private ownerDeathListener: (() => void) | null = null;

  constructor(native: NativeMutex, name: string) {
    this.native = native;
    this.name = name;
    this.me = ownerId();
    const ab = native.state();
    this.i32 = ab === undefined ? null : new Int32Array(ab, 0, L.kStateInt32s);
  }

  // ---- what the facade may ask --------------------------------------------------------------

  /** A handle revived in this thread joins this engine: consume the hand-off it was sent with. */
  consumeHandoff(): void {
    this.native.consumeHandoff();
  }

  /** The owner-death policy recorded in the segment is 'strict'. */
  get strict(): boolean {
    return this.native.policy === 1;
  }

  /** The segment has the attached lifetime. */
  get attached(): boolean {
    return this.native.attached;
  }

  /** Whether `token` holds the lock (token 0 never does). */
  holds(token: number): boolean {
    return token !== 0 && this.holder === token;
  }

  /** Whether any token of this context holds the lock. */
  get heldHere(): boolean {
    return this.holder !== 0;
  }

  /** Whether `token`'s current hold was recovered from a dead holder. */
  ownerDiedFor(token: number): boolean {
    return this.holds(token) && this.ownerDied;
  }

  /**
   * The thread (kThreadToken) holds the lock from an earlier synchronous run: re-entering it
   * with the blocking API now would be a re-entry across a tick (SHMSYNC_SYNC_REENTRY).
   */
  threadHoldCrossedRun(): boolean {
    return this.holder === kThreadToken && !sameSyncRun(this.syncRun);
  }

  /** Handles of this engine: the facade counts them; the last one out shuts the engine down. */
  retain(): void {
    this.refs += 1;
  }

  /**
   * One handle gone. Returns true when that was the last one and the engine shut down. A
   * garbage-collected handle (`byGc`) never drops a hold or a wait behind the holder's back: the
   * engine then stays for the context's life.
   */
  unretain(byGc: boolean): boolean {
    this.refs -= 1;
    if (this.refs !== 0) return false;
    if (byGc && (this.holder !== 0 || this.queue.length !== 0)) {
      this.refs = 1;
      return false;
    }
    this.shutdown();
    return true;
  }

  /** Whether no handle uses the engine (a failed open may shut it down at once). */
  get unused(): boolean {
    return this.refs === 0;
  }

  /** Called (with no arguments) when a hold was recovered from a dead owner. */
  onOwnerDeath(listener: () => void): void {
    this.ownerDeathListener = listener;
  }

  /** A reference to this mutex is leaving the process: keep the segment until it is opened. */
  lease(): void {
    leaseHandoff(this.native);
  }

  /** The fencing counter's low and high words, read by the holder right after acquiring. */
  fenceLo(): number {
    return this.i32 !== null ? this.i32[kFenceLo] >>> 0 : Number(this.native.info().acquisitions & 0xffffffffn);
  }

  fenceHi(): number {
    return this.i32 !== null ? this.i32[kFenceHi] >>> 0 : Number(this.native.info().acquisitions >> 32n);
  }

  info(): EngineInfo {
    const n = this.native.info();
    return {
      locked: n.locked,
      holderPid: n.holderPid ?? 0,
      holderThreadId: n.holderThreadId ?? 0,
      holderAlive: n.holderAlive ?? false,
      depth: n.holderIsMe ? this.depth : n.depth,
      // The parker counts once for this context however many Promise waiters it queues.
      waiters: n.waiters + this.queue.length - (this.parkId !== 0 ? 1 : 0),
      acquisitions: n.acquisitions,
      ownerDeaths: n.ownerDeaths,
      consistency: n.consistency,
    };
  }

  // ---- acquisition ---------------------------------------------------------------------------

  /**
   * Uncontended CAS from JS. True: this context now holds the word (fence and depth written),
   * but no token is recorded yet (callers record one with take(), or give the word back).
   * Declines (false) whenever anything needs the native rules: a hand-off registration, the
   * waiters bit, strict-policy state, or no mapping.
   *
   * The hand-off word is read plainly, not with Atomics.load: like native TryLock's relaxed
   * load it only decides whether to defer to a registered starving waiter (bounded barging,
   * a fairness rule), and a stale read is a race native TryLock has too; exclusion rests on the
   * CAS alone (sequentially consistent, like every Atomics RMW).
   */
  tryFast(): boolean {
    const i32 = this.i32;
    if (i32 === null || i32[kHandoff] !== 0 || Atomics.compareExchange(i32, kWord, 0, this.me) !== 0) return false;
    return i32[kConsistency] === 0 ? this.tookWord(i32) : this.giveBackWord();
  }

  /** After a successful CAS with consistent state: the holder-only bookkeeping. Returns true. */
  private tookWord(i32: Int32Array): true {
    // Holder-only fields: ordered by the CAS before and the release CAS (or native unlock) after.
    const lo = (i32[kFenceLo] + 1) | 0;
    i32[kFenceLo] = lo;
    if (lo === 0) i32[kFenceHi] = (i32[kFenceHi] + 1) | 0;
    i32[kDepth] = 1;
    return true;
  }

  /** The CAS won a word in strict-policy state: give it back and let the native path apply the rules. */
  private giveBackWord(): false {
    this.native.unlock();
    return false;
  }

  /** Records that `token` now holds the lock (fresh acquisition with `status`). */
  private take(token: number, status: Status): void {
    this.holder = token;
    this.depth = 1;
    if (token === kThreadToken) this.syncRun = syncRun();
    this.ownerDied = status === Status.OwnerDead;
    if (lockTracing()) traceGranted(this, token, this.ownerDied);
    if (this.ownerDied && this.ownerDeathListener !== null) this.ownerDeathListener();
  }

  /** One more level of `token`'s hold. False (nothing changed) if `token` does not hold it. */
  reenter(token: number): boolean {
    if (token === 0 || this.holder !== token) return false;
    this.depth += 1;
    if (this.i32 !== null) this.i32[kDepth] = this.depth;
    return true;
  }

  /**
   * Blocking-API acquisition for `token`. Returns a Status (Deadlock/WouldBlock/Timeout...).
   * The first branch is the uncontended fast path: no N-API call, two plain reads, one CAS. It
   * is kept small on purpose (V8 inlines it into the caller's loop only within a bytecode budget).
   */
  acquireSync(token: number, blocking: boolean, timeoutMs: number): Status {
    const holder = this.holder;
    if (holder === 0) {
      if (this.parkId === 0 && !grantTraced && this.tryFast()) {
        // Invariant: holder === 0 implies ownerDied === false (release and shutdown reset it).
        this.holder = token;
        this.depth = 1;
        if (token === kThreadToken) this.syncRun = syncRun();
        return Status.Ok;
      }
      return this.acquireSyncSlow(token, blocking, timeoutMs);
    }
    if (holder !== token) return blocking && timeoutMs !== 0 ? Status.Deadlock : Status.WouldBlock;
    this.reenter(token);
    return Status.Ok;
  }

  private acquireSyncSlow(token: number, blocking: boolean, timeoutMs: number): Status {
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

  /**
   * Starts a fresh Promise-API acquisition for `token` (emits the acquire event) and completes
   * it without waiting when nobody of this context holds or awaits the lock and the CAS succeeds:
   * true, `token` holds it. False: continue with acquireAsync (which emits no second event).
   */
  acquireNow(token: number): boolean {
    if (lockTracing()) traceAcquire(this, token, false); // the slow path does not trace again
    if (this.holder !== 0 || this.queue.length !== 0 || this.parkId !== 0 || !this.tryFast()) return false;
    this.take(token, Status.Ok);
    return true;
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
    // Parks unless this context holds the lock (its release serves the queue) or has parked.
    return queueWaiter(this.queue, token, timeoutMs, signal, this.drop, () => {
      if (this.holder === 0 && this.parkId === 0) this.park();
    });
  }

  /** Releases one level of `token`'s hold. Returns NotOwner if `token` does not hold it. */
  release(token: number): Status {
    if (this.holder !== token || token === 0) return Status.NotOwner;
    if (this.depth > 1) return this.leaveLevel();
    this.holder = 0;
    this.depth = 0;
    this.ownerDied = false;
    // Only 'released' listens to a release. A stamp left in traceHeldSince is told from the next
    // hold's start by its fence (diagnostics.ts traceReleased): nothing to clear here.
    if (releaseTraced) traceReleased(this);
    const st = this.unlockWord();
    if (this.queue.length !== 0) this.serveQueue();
    return st;
  }

  private leaveLevel(): Status {
    this.depth -= 1;
    if (this.i32 !== null) this.i32[kDepth] = this.depth;
    return Status.Ok;
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
  private granted(requestId: number, status: Status): void {
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
      this.ownerDied = false;
      if (lockTracing()) traceReleased(this);
      this.unlockWord();
    }
    this.native.close();
  }

  /**
   * Frees the word. Fast path: one CAS from our id to 0, which fails whenever the waiters bit is
   * set (someone may sleep: native wakes them). Hand-off registrations and strict-policy state go
   * native too. The plain reads are enough: a registration that lands after them belongs to a
   * waiter that is awake (a waiter sets the waiters bit before it sleeps, which fails our CAS), and
   * it takes the freed word itself (docs/concepts/lock-protocol.md).
   */
  private unlockWord(): Status {
    const i32 = this.i32;
    // The CAS succeeds only when no waiter bit is set: then nobody needs a wake.
    return i32 !== null && i32[kHandoff] === 0 && i32[kConsistency] === 0 && this.clearWord(i32)
      ? Status.Ok
      : (this.native.unlock() as Status);
  }

  private clearWord(i32: Int32Array): boolean {
    i32[kDepth] = 0;
    return Atomics.compareExchange(i32, kWord, this.me, 0) === this.me;
  }

  /** After a release: let the next local waiter in, fairly with other contexts. */
  private serveQueue(): void {
    if (this.queue.length === 0 || this.holder !== 0 || this.parkId !== 0) return;
    // Nobody else waits: take it at once. Otherwise queue behind them through the parker.
    if (this.i32 !== null && Atomics.load(this.i32, kWaiters) === 0 && this.tryFast()) {
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

  /** A waiter timed out or was aborted (an arrow: queueWaiter's timer and abort listener call it). */
  private readonly drop = (w: Waiter, outcome: Status.Timeout | 'abort'): void => {
    const i = this.queue.indexOf(w);
    if (i < 0) return;
    this.queue.splice(i, 1);
    if (this.queue.length === 0 && this.parkId !== 0) {
      const r = this.cancelPark();
      if (r >= 0 && isAcquired(r)) this.unlockWord(); // granted to nobody: give it back
    }
    w.settle(outcome);
  };

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
