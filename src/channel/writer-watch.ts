/**
 * Writer liveness of a shared channel over ShmQueue: a writer that dies (SIGKILL, crash, exit
 * without close) must not leave readers waiting for ever.
 *
 * Each writer endpoint (in any process or thread) holds a SHARED hold on the channel's RwLock
 * `<queue>.writers` while it is open. A reader whose read has waited `kArmDelayMs` asks for the
 * EXCLUSIVE hold (the "watch"); it is granted only when no writer holds. When the grant reports
 * `ownerDied` (it reclaimed the share of a writer that died) - or the lock's death count moved
 * since this endpoint opened the lock (a writer registering after the death reclaimed that share
 * and took the one-time report, then left normally) - the watch ends the stream (queue.end():
 * every reader drains what was sent, then reads []), and records `writerDied`.
 * A grant without a death (writers closed or released normally, or none registered yet) changes
 * nothing; the watch re-arms after a growing delay while that read still waits. The watch is
 * withdrawn when the read returns, so it never keeps the event loop alive on its own.
 *
 * A new writer's registration queues behind a pending watch (RwLock grants in request order); the
 * watch withdraws and renews its request every kSliceMs, so a registration completes within
 * about that time. Writes never wait for it.
 *
 * The lock is shared memory like any other: another process may fill its table (SHMSYNC_BUSY: 128
 * holders and waiters at most), rewrite it (SHMSYNC_CORRUPT) or hold it. A registration the lock
 * refuses rejects `registered` with that coded error (marked handled: a writer that never awaits
 * it is not killed by an unhandled rejection) and is reported as a process warning
 * (`SHMSYNC_WRITER_WATCH`, the first refusal per lock): that writer is never registered, so its
 * death cannot be seen. A watch whose request fails keeps watching - it asks again after its
 * growing delay, so a table that frees up or a guard that recovers lets it see the death of a
 * registered writer later - and reports its first failure per lock the same way, instead of
 * stopping silently.
 * Runs on the JS thread of the endpoint.
 */
import { RwLock } from '../rwlock/rw-lock';
import type { RwLockGuard } from '../rwlock/rw-guard';
import type { Lifetime } from '../addon/lifetime';

const kArmDelayMs = 20;

/** A writer endpoint's registration. */
export interface Registration {
  readonly unregister: () => void;
  readonly registered: Promise<void>;
}
const kMaxDelayMs = 1000;
/** Longest a watch's exclusive request stays queued before it is asked again. */
const kSliceMs = 200;

const codeOf = (err: unknown): unknown =>
  typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
/** Outcomes of an acquisition that are not a failure of the lock: our own withdrawal or close. */
const isWithdrawn = (err: unknown): boolean => codeOf(err) === 'ABORT_ERR' || codeOf(err) === 'SHMSYNC_CLOSED';

export class WriterWatch {
  readonly lock: RwLock;
  /** Set once a watch saw a writer's death (in this endpoint). */
  writerDied = false;
  /** The first error a watch's request met (null: none); reported once as a warning. */
  watchError: Error | null = null;
  /** The first refusal of a writer's registration (null: none); reported once as a warning. */
  registerError: Error | null = null;

  /** The lock's death count when this endpoint opened it (null: unreadable, a forged table). */
  readonly #deathsAtOpen: number | null;

  constructor(lock: RwLock) {
    this.lock = lock;
    this.#deathsAtOpen = deathCount(lock);
  }

  /** Whether a writer died since this endpoint opened the lock, whoever took the report. */
  #deathSinceOpen(): boolean {
    const now = deathCount(this.lock);
    return now !== null && this.#deathsAtOpen !== null && now !== this.#deathsAtOpen;
  }

  static open(queueName: string, lifetime: Lifetime): WriterWatch {
    return new WriterWatch(new RwLock(`${queueName}.writers`, { lifetime }));
  }

  /** Registers one writer endpoint: `unregister` is idempotent; `registered` resolves on the grant. */
  register(): Registration {
    const ac = new AbortController();
    let guard: RwLockGuard | null = null;
    let done = false;
    const registered = this.lock.acquireShared({ signal: ac.signal }).then(
      (g) => {
        if (done) g.release();
        else guard = g;
      },
      (err: unknown) => {
        // Withdrawn (unregistered before the grant) or the lock was closed: nothing to report.
        // Refused (a full table, a corrupt guard): this writer's death cannot be seen - say so.
        if (done || isWithdrawn(err)) return;
        if (this.registerError === null) {
          this.registerError = err instanceof Error ? err : new Error(String(err));
          this.#warn(
            `a writer's registration on "${this.lock.name}" was refused`,
            err,
            "that writer's death is not seen",
          );
        }
        throw err;
      },
    );
    registered.catch(() => {}); // handled: awaiting `registered` is optional
    const unregister = (): void => {
      if (done) return;
      done = true;
      if (guard !== null) guard.release();
      else ac.abort();
    };
    return { unregister, registered };
  }

  /**
   * Watches while a read waits: call the returned function when the read returns. `onDeath`
   * runs (once) when a writer's death is seen.
   */
  watch(onDeath: () => void): () => void {
    let stopped = false;
    let ac: AbortController | null = null;
    let delay = kArmDelayMs;
    let timer: NodeJS.Timeout | null = null;
    const arm = (): void => {
      timer = null;
      if (stopped || this.lock.closed) return;
      ac = new AbortController();
      // A queued exclusive request holds back later shared ones (grants in request order): it
      // is withdrawn every kSliceMs and asked again at once, so a writer registering meanwhile
      // (its earlier ticket) gets in first. A death while it is queued grants it at once.
      this.lock.acquireExclusive({ signal: ac.signal, timeout: kSliceMs }).then(
        (g) => {
          ac = null;
          const died = g.ownerDied || this.#deathSinceOpen();
          g.release();
          if (stopped) return;
          if (died) {
            this.writerDied = true;
            onDeath();
            return;
          }
          delay = Math.min(delay * 2, kMaxDelayMs);
          timer = setTimeout(arm, delay);
        },
        (err: unknown) => {
          ac = null;
          if (stopped || this.lock.closed) return;
          if (codeOf(err) === 'SHMSYNC_TIMEOUT') {
            arm();
            return;
          }
          if (isWithdrawn(err)) return;
          // The lock refused (full table, corrupt guard...): keep watching after the delay.
          this.#reportOnce(err);
          delay = Math.min(delay * 2, kMaxDelayMs);
          timer = setTimeout(arm, delay);
        },
      );
    };
    timer = setTimeout(arm, delay);
    return () => {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      ac?.abort();
    };
  }

  #reportOnce(err: unknown): void {
    if (this.watchError !== null) return;
    this.watchError = err instanceof Error ? err : new Error(String(err));
    this.#warn(
      `shared channel writer watch on "${this.lock.name}" failed`,
      err,
      'a writer that dies meanwhile is not seen; the watch keeps asking',
    );
  }

  #warn(what: string, err: unknown, consequence: string): void {
    const message = err instanceof Error ? err.message : String(err);
    process.emitWarning(`${what} (${String(codeOf(err) ?? message)}): ${consequence}`, {
      code: 'SHMSYNC_WRITER_WATCH',
      detail: message,
    });
  }

  close(): void {
    this.lock.close();
  }
}

/** The lock's owner-death count (a counter in shared memory: compared for change, never trusted as a size). */
function deathCount(lock: RwLock): number | null {
  try {
    return lock.info().ownerDeaths;
  } catch {
    return null;
  }
}
