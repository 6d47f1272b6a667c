/**
 * The per-context engine of a Mutex on a remote backend: one per (backend, lock name) in a JS
 * context, shared by every handle of that name and backend, like LockEngine for shared memory.
 * Runs on the context's JS thread only.
 *
 * State: holder (token holding the lock in this context, 0: none), depth (reentrancy), hold (the
 * RemoteHold of the current grant), queue (Promise waiters of this context, FIFO), attempt (the
 * one remote acquisition in flight for the queue, with its Canceller).
 * Invariants: hold !== null iff holder !== 0; attempt !== null only while holder === 0 and the
 * queue is non-empty (an emptied queue aborts it). A grant goes to the first queued waiter.
 * A release gives the lock back on the server (and increments nothing); the next local waiter
 * then acquires again, so every grant - local hand-offs included - gets a fresh fence.
 */
import { Status } from '../addon/status';
import type { LockBackend, RemoteLockInfo } from './lock-backend';
import { acquireRemote, Canceller, RemoteHold } from './remote-hold';
import { queueWaiter, type LockWaiter } from './lock-waiter';

type Waiter = LockWaiter<Status.Ok | Status.Timeout | 'abort' | 'closed'>;

/** What the Mutex handles of an engine hear. */
export interface RemoteListeners {
  ownerDied(): void;
  lost(err: Error, fence: bigint): void;
}

export class RemoteEngine {
  readonly backend: LockBackend;
  readonly name: string;
  private holder = 0;
  private depth = 0;
  private hold: RemoteHold | null = null;
  private readonly queue: Waiter[] = [];
  private attempt: Canceller | null = null;
  /** The last remote release; the next attempt of this context waits for it. */
  private releasing: Promise<unknown> = Promise.resolve();
  private refs = 0;
  private readonly listeners = new Set<RemoteListeners>();

  constructor(backend: LockBackend, name: string) {
    this.backend = backend;
    this.name = name;
  }

  // ---- what MutexGuard asks (the GuardEngine shape) -------------------------------------------

  holds(token: number): boolean {
    return token !== 0 && this.holder === token;
  }

  get heldHere(): boolean {
    return this.holder !== 0;
  }

  ownerDiedFor(token: number): boolean {
    return this.holds(token) && this.hold!.ownerDied;
  }

  fenceLo(): number {
    return this.hold === null ? 0 : Number(this.hold.fence & 0xffffffffn);
  }

  fenceHi(): number {
    return this.hold === null ? 0 : Number(this.hold.fence >> 32n);
  }

  /** The current grant (its `signal` aborts with LockLostError if its lease is lost). */
  holdOf(token: number): { readonly signal: AbortSignal } | undefined {
    return this.holds(token) ? this.hold! : undefined;
  }

  /** Strict policy does not exist here: nothing to mark. */
  markConsistent(): Status {
    return Status.Ok;
  }

  // ---- handles ------------------------------------------------------------------------------

  retain(listeners: RemoteListeners): void {
    this.refs += 1;
    this.listeners.add(listeners);
  }

  /**
   * One handle gone; true when it was the last (the engine shut down). A garbage-collected handle
   * (`byGc`) never drops a hold or a wait behind the holder's back: the engine then stays.
   */
  unretain(listeners: RemoteListeners, byGc = false): boolean {
    this.listeners.delete(listeners);
    this.refs -= 1;
    if (this.refs !== 0) return false;
    if (byGc && (this.holder !== 0 || this.queue.length !== 0)) {
      this.refs = 1;
      return false;
    }
    this.shutdown();
    return true;
  }

  // ---- acquisition --------------------------------------------------------------------------

  reenter(token: number): boolean {
    if (token === 0 || this.holder !== token) return false;
    this.depth += 1;
    return true;
  }

  /** Promise acquisition for `token`; rejects with BackendError when the backend keeps failing. */
  acquire(
    token: number,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<Status.Ok | Status.Timeout | 'abort' | 'closed'> {
    if (timeoutMs === 0) return this.tryOnce(token);
    return queueWaiter(this.queue, token, timeoutMs, signal, this.drop, () => this.pump());
  }

  /**
   * `timeout: 0`: one attempt (one round trip), unless this context holds the lock or has
   * waiters before this one (then it times out at once, as a local try would). It occupies the
   * attempt slot, so the queue's attempt never runs beside it.
   */
  private tryOnce(token: number): Promise<Status.Ok | Status.Timeout | 'closed'> {
    if (this.holder !== 0 || this.queue.length !== 0 || this.attempt !== null) return Promise.resolve(Status.Timeout);
    const controller = new Canceller();
    this.attempt = controller;
    const done = (): void => {
      this.attempt = null;
      this.pump();
    };
    return this.releasing
      .then(() =>
        acquireRemote(this.backend, this.name, 'exclusive', { timeoutMs: 0, tryOnly: true, signal: controller }),
      )
      .then(
        (outcome) => {
          this.attempt = null;
          if (outcome instanceof RemoteHold) {
            this.take(token, outcome);
            return Status.Ok;
          }
          done();
          return outcome === 'abort' ? 'closed' : Status.Timeout; // aborted only by shutdown()
        },
        (err: unknown) => {
          done();
          throw err;
        },
      );
  }

  /** Starts the remote attempt for the queue when nobody here holds or attempts. */
  private pump(): void {
    if (this.holder !== 0 || this.attempt !== null || this.queue.length === 0) return;
    const controller = new Canceller();
    this.attempt = controller;
    this.releasing
      .then(() => acquireRemote(this.backend, this.name, 'exclusive', { timeoutMs: -1, signal: controller }))
      .then(
        (outcome) => {
          this.attempt = null;
          if (outcome instanceof RemoteHold) {
            const w = this.queue.shift();
            if (w === undefined) {
              this.releasing = outcome.release().catch(() => false);
              return;
            }
            this.take(w.token, outcome);
            w.settle(Status.Ok);
            return;
          }
          this.pump(); // aborted because the queue emptied; a waiter may have come since
        },
        (err: unknown) => {
          this.attempt = null;
          for (const w of this.queue.splice(0)) w.fail(err);
        },
      );
  }

  private take(token: number, hold: RemoteHold): void {
    this.holder = token;
    this.depth = 1;
    this.hold = hold;
    hold.onLost = (err) => {
      for (const l of [...this.listeners]) l.lost(err, hold.fence);
    };
    if (hold.ownerDied) for (const l of [...this.listeners]) l.ownerDied();
  }

  /** A waiter timed out or was aborted (an arrow: queueWaiter's timer and abort listener call it). */
  private readonly drop = (w: Waiter, outcome: Status.Timeout | 'abort'): void => {
    const i = this.queue.indexOf(w);
    if (i < 0) return;
    this.queue.splice(i, 1);
    if (this.queue.length === 0) this.attempt?.abort();
    w.settle(outcome);
  };

  /** Releases one level of `token`'s hold; the last one gives the lock back on the server. */
  release(token: number): Status {
    if (token === 0 || this.holder !== token) return Status.NotOwner;
    if (this.depth > 1) {
      this.depth -= 1;
      return Status.Ok;
    }
    const hold = this.hold!;
    this.holder = 0;
    this.depth = 0;
    this.hold = null;
    this.releasing = hold.release().catch(() => false);
    this.pump();
    return Status.Ok;
  }

  /** Resolves once the last release reached the server (withLock waits for it). */
  released(): Promise<void> {
    return this.releasing.then(() => undefined);
  }

  info(): Promise<RemoteLockInfo> {
    return this.backend.info(this.name);
  }

  /** Local depth of this context's hold (0: none). */
  get localDepth(): number {
    return this.depth;
  }

  /** The last handle closed: give a hold back, fail the waiters. */
  shutdown(): void {
    for (const w of this.queue.splice(0)) w.settle('closed');
    this.attempt?.abort();
    if (this.hold !== null) {
      const hold = this.hold;
      this.holder = 0;
      this.depth = 0;
      this.hold = null;
      this.releasing = hold.release().catch(() => false);
    }
  }
}
