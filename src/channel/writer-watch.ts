/**
 * Writer liveness of a shared channel over ShmQueue: a writer that dies (SIGKILL, crash, exit
 * without close) must not leave readers waiting for ever.
 *
 * Each writer endpoint (in any process or thread) holds a SHARED hold on the channel's RwLock
 * `<queue>.writers` while it is open. A reader whose read has waited `kArmDelayMs` asks for the
 * EXCLUSIVE hold (the "watch"); it is granted only when no writer holds. When the grant reports
 * `ownerDied` (it reclaimed the share of a writer that died), the watch ends the stream
 * (queue.end(): every reader drains what was sent, then reads []), and records `writerDied`.
 * A grant without a death (writers closed or released normally, or none registered yet) changes
 * nothing; the watch re-arms after a growing delay while that read still waits. The watch is
 * withdrawn when the read returns, so it never keeps the event loop alive on its own.
 *
 * A new writer's registration queues behind a pending watch (RwLock grants in request order); the
 * watch withdraws and renews its request every kSliceMs, so a registration completes within
 * about that time. Writes never wait for it.
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

export class WriterWatch {
  readonly lock: RwLock;
  /** Set once a watch saw a writer's death (in this endpoint). */
  writerDied = false;

  constructor(lock: RwLock) {
    this.lock = lock;
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
      () => {}, // withdrawn (unregistered before the grant) or the lock was closed
    );
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
          const died = g.ownerDied;
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
          if (!stopped && (err as { code?: string }).code === 'SHMSYNC_TIMEOUT') arm();
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

  close(): void {
    this.lock.close();
  }
}
