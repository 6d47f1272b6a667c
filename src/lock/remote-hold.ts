/**
 * One grant on a remote backend, and how to get one. Runs on the calling JS thread.
 *
 * Waiting (acquireRemote): one attempt per round trip; when busy, the waiter subscribes to the
 * lock's release notices, tries once more (a release between the first attempt and the
 * subscription is not missed), then sleeps until a notice, the holder's remaining lease (the
 * backend's hint, so a crashed holder's lock is taken over as soon as its lease ends), or
 * `pollMaxMs` - whichever comes first. Notices are hints: a lost one costs at most pollMaxMs,
 * never a grant. No busy loop: every retry waits for a notice or a timer of at least 1 ms.
 * Fairness: every waiter that hears a notice tries; the first attempt to reach the server wins
 * (not FIFO across processes; FIFO inside one context, remote-engine.ts).
 *
 * Keeping a grant (RemoteHold): a timer (unref'd: it never keeps the process alive) renews the
 * lease every `renewEveryMs`. The hold is LOST - its `signal` aborts with `LockLostError` and
 * `onLost` runs, once - when a renewal answers that the owner is gone (expired, stolen) or when
 * no renewal succeeded within `leaseMs` of the last confirmed one (measured from when that
 * request was SENT, on the monotonic clock): a paused or partitioned holder learns it at its
 * first timer after it resumes, before it can renew anything. The server may have freed the lock
 * earlier than this process believes only if clocks run at different rates (see docs/redis.md).
 */
import { performance } from 'node:perf_hooks';
import { BackendError, CorruptError, LockLostError } from '../errors';
import type { LockBackend, RemoteAttempt, RemoteMode, RemoteWatch } from './lock-backend';

let serial = 0;

/** A fresh owner string for one grant attempt: `<clientId>#<serial>`. */
export function newOwner(backend: LockBackend): string {
  serial += 1;
  return `${backend.clientId}#${serial}`;
}

export class RemoteHold {
  readonly name: string;
  readonly owner: string;
  readonly mode: RemoteMode;
  readonly fence: bigint;
  readonly ownerDied: boolean;
  /** Called once when the hold is lost (not after a release). */
  onLost: ((err: Error) => void) | null = null;
  readonly #backend: LockBackend;
  /** Made on the first read of `signal` or at a loss (an AbortController costs microseconds). */
  #controller: AbortController | null = null;
  /** performance.now() when the last successful grant/renewal request was sent. */
  #confirmedAt: number;
  #timer: NodeJS.Timeout | null = null;
  #released = false;
  #lost = false;

  constructor(
    backend: LockBackend,
    name: string,
    owner: string,
    mode: RemoteMode,
    grant: { fence: bigint; ownerDied: boolean },
    sentAt: number,
  ) {
    this.#backend = backend;
    this.name = name;
    this.owner = owner;
    this.mode = mode;
    this.fence = grant.fence;
    this.ownerDied = grant.ownerDied;
    this.#confirmedAt = sentAt;
    this.#schedule();
  }

  /** Aborts (with LockLostError) when the hold is lost; never after a clean release. */
  get signal(): AbortSignal {
    return (this.#controller ??= new AbortController()).signal;
  }

  get lost(): boolean {
    return this.#lost;
  }

  get released(): boolean {
    return this.#released;
  }

  /**
   * The next tick: a renewal period away, or sooner at the local deadline (the last confirmed
   * request's send time + leaseMs), so that a hold whose renewals fail is declared lost when its
   * lease may end on the server, not up to a period later.
   */
  #schedule(): void {
    const toDeadline = this.#confirmedAt + this.#backend.leaseMs - performance.now();
    const delay = Math.max(1, Math.min(this.#backend.renewEveryMs, Math.ceil(toDeadline)));
    this.#timer = setTimeout(() => this.#tick(), delay);
    this.#timer.unref();
  }

  #tick(): void {
    this.#timer = null;
    if (this.#released || this.#lost) return;
    const now = performance.now();
    if (now - this.#confirmedAt >= this.#backend.leaseMs - 1) {
      this.lose(
        `no renewal succeeded within the ${this.#backend.leaseMs} ms lease (paused, partitioned or the server unreachable)`,
      );
      return;
    }
    this.#backend.renew(this.name, this.owner, this.mode).then(
      (ok) => {
        if (this.#released || this.#lost) return;
        if (ok) this.#confirmedAt = now;
        else this.lose('the lease ended on the server (it expired or the lock was stolen)');
      },
      () => {
        // Unreachable for now: the next tick retries, and declares the hold lost at the deadline.
      },
    );
    this.#schedule();
  }

  /** Marks the hold lost (idempotent): aborts the signal and tells onLost. */
  lose(why: string): void {
    if (this.#lost || this.#released) return;
    this.#lost = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const err = new LockLostError(`lock "${this.name}" (fence ${this.fence}) was lost: ${why}`);
    (this.#controller ??= new AbortController()).abort(err);
    this.onLost?.(err);
  }

  /**
   * Ends the hold on the server. Resolves true if it was still held there. Idempotent. Bounded:
   * a release the server does not answer settles (false) after leaseMs, when the lease is over
   * anyway, so that nothing waiting for it (the next attempt, withLock) hangs on a dead link.
   */
  release(): Promise<boolean> {
    if (this.#released) return Promise.resolve(false);
    this.#released = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#lost) return Promise.resolve(false);
    return bounded(this.#backend.release(this.name, this.owner, this.mode, this.fence), this.#backend.leaseMs, false);
  }
}

/** The part of an AbortSignal acquireRemote uses: an AbortSignal, or the cheaper Canceller. */
export interface CancelSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * A one-shot cancel flag for the engine's own attempts: what an AbortController does for them,
 * without its cost (creating an AbortController is most of the JS time of an uncontended cycle).
 */
export class Canceller implements CancelSignal {
  aborted = false;
  #listeners: (() => void)[] = [];

  addEventListener(_type: 'abort', listener: () => void): void {
    if (!this.aborted) this.#listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const i = this.#listeners.indexOf(listener);
    if (i >= 0) this.#listeners.splice(i, 1);
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    for (const l of this.#listeners.splice(0)) l();
  }
}

export interface AcquireRemoteOptions {
  /** Milliseconds; -1 waits forever. */
  timeoutMs: number;
  signal?: CancelSignal;
  steal?: boolean;
  /** One attempt only: 'busy' when held. */
  tryOnly?: boolean;
}

export type RemoteOutcome = RemoteHold | 'timeout' | 'abort' | 'busy';

/**
 * Acquires `name` on `backend`: a RemoteHold, or why not. Rejects with BackendError when the
 * backend kept failing for longer than max(2 x leaseMs, 2 s) (transient failures - a restart, a
 * reconnect - are retried), or at once for a `tryOnly` attempt.
 */
export async function acquireRemote(
  backend: LockBackend,
  name: string,
  mode: RemoteMode,
  options: AcquireRemoteOptions,
): Promise<RemoteOutcome> {
  const { signal, steal = false, tryOnly = false } = options;
  const owner = newOwner(backend);
  const deadline = options.timeoutMs >= 0 ? performance.now() + options.timeoutMs : Infinity;
  const failWindow = Math.max(2 * backend.leaseMs, 2000);
  let watch: RemoteWatch | null = null;
  let queued = false;
  const notice = { seen: false }; // set by the watch between attempts
  let wake: (() => void) | null = null;
  let failingSince = -1;
  let granted = false;
  try {
    for (let round = 0; ; round++) {
      if (signal?.aborted) return 'abort';
      notice.seen = false;
      const sentAt = performance.now();
      let retryInMs: number;
      try {
        // Bounded: a connection that swallows commands (a black hole, an offline queue that
        // never gives up) ends the wait with BackendError instead of hanging it forever. A grant
        // that arrives after the window is given back.
        const r = await bounded<RemoteAttempt | typeof kNoAnswer>(
          backend.attempt(name, owner, mode, { steal, queue: watch !== null }),
          failWindow,
          kNoAnswer,
          (late) => {
            if (late !== kNoAnswer && late.granted)
              void backend.release(name, owner, mode, late.fence).catch(() => false);
          },
        );
        if (r === kNoAnswer)
          throw new BackendError(`lock "${name}": the server did not answer within ${failWindow} ms`);
        failingSince = -1;
        if (r.granted) {
          granted = true;
          const hold = new RemoteHold(backend, name, owner, mode, r, sentAt);
          if (signal?.aborted) {
            void hold.release().catch(() => false);
            return 'abort';
          }
          return hold;
        }
        if (watch !== null) queued = true;
        retryInMs = r.retryInMs;
      } catch (err) {
        // Keys written by someone else are not a passing failure: retrying would not heal them.
        if (err instanceof CorruptError) throw err;
        if (tryOnly) throw backendError(name, err);
        if (failingSince < 0) failingSince = sentAt;
        if (performance.now() - failingSince > failWindow) throw backendError(name, err);
        retryInMs = Math.min(backend.pollMaxMs, 50 * 2 ** Math.min(round, 5));
      }
      if (tryOnly) return 'busy';
      const left = deadline - performance.now();
      if (left <= 0) return 'timeout';
      if (watch === null) {
        watch = backend.watch(name, () => {
          notice.seen = true;
          wake?.();
        });
        // Bounded: while the server is unreachable the subscription waits for the reconnection,
        // and this wait must still end at an abort or after pollMaxMs (then polling goes on).
        await sleep(Math.min(backend.pollMaxMs, left), signal, watch.ready);
        continue; // a release before the subscription took effect: try again at once
      }
      if (notice.seen) continue;
      const delay = Math.max(1, Math.min(retryInMs, backend.pollMaxMs, left));
      await sleep(delay, signal, null, (done) => (wake = done));
      wake = null;
    }
  } finally {
    watch?.close();
    if (queued && !granted) void backend.withdraw(name, owner, mode).catch(() => undefined);
  }
}

/**
 * `promise`, or `fallback` if it has not settled after `ms` (its late outcome is then dropped,
 * or handed to `late`). The timer is unref'd and cleared at once when the promise settles.
 */
function bounded<T>(promise: Promise<T>, ms: number, fallback: T, late?: (value: T) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      resolve(fallback);
    }, ms);
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        if (timedOut) late?.(value);
        else resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        if (!timedOut) reject(err);
      },
    );
  });
}

/** The reply of an attempt that the server did not answer within the failure window. */
const kNoAnswer = Symbol('no answer');

/**
 * Resolves after `ms`, at an abort of `signal`, when `until` settles, or when the function given
 * to `onWake` is called - whichever comes first.
 */
function sleep(
  ms: number,
  signal: CancelSignal | undefined,
  until: Promise<unknown> | null,
  onWake?: (wake: () => void) => void,
): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(1, ms));
    signal?.addEventListener('abort', done, { once: true });
    until?.then(done, done);
    onWake?.(done);
  });
}

function backendError(name: string, cause: unknown): Error {
  if (cause instanceof BackendError) return cause;
  const why = cause instanceof Error ? cause.message : String(cause);
  return new BackendError(`lock "${name}": the backend failed: ${why}`, { cause });
}
