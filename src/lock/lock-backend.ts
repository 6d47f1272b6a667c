/**
 * The interface a remote lock backend implements (Redis: src/redis/), so that `new Mutex(name,
 * { backend })`, `new Lockable({ name, backend })` and `new LockManager({ backend })` keep their
 * API on it. The backend owns the remote protocol (one round trip per attempt, leases, fencing
 * counter, release notices); this layer owns everything local: holder tokens, reentrancy, the
 * local FIFO of waiters, timeouts, AbortSignals, renewals and the lost-lease signal
 * (remote-hold.ts, remote-engine.ts). Runs on the calling JS thread.
 *
 * Ownership is a string chosen by this layer, unique per grant attempt
 * (`<clientId>#<serial>`): a late release or renewal of an old grant can never touch a newer one.
 */

export type RemoteMode = 'exclusive' | 'shared';

/** One attempt's answer: granted, or busy with a hint of when to try again. */
export type RemoteAttempt =
  { granted: true; fence: bigint; ownerDied: boolean } | { granted: false; retryInMs: number };

export interface RemoteAttemptOptions {
  /** Take it even when held: every holder loses its lease at once (Web Locks `steal`). */
  steal?: boolean;
  /** Record the caller as a waiter (query(), info().waiters) until it is granted or withdraws. */
  queue?: boolean;
}

/** A holder or waiter as the backend reports it. */
export interface RemoteEntry {
  name: string;
  mode: RemoteMode;
  /** `<pid>:<threadId>@<host>` of the holder's JS context. */
  clientId: string;
  /** Milliseconds left on a holder's lease (or a waiter's registration). */
  remainingMs: number;
}

/** A lock's remote state. */
export interface RemoteLockInfo {
  held: RemoteEntry[];
  pending: RemoteEntry[];
  /** The fencing counter: the fence of the latest grant (0 before the first). */
  fence: bigint;
  /** Grants that found the previous exclusive holder's lease expired without a release. */
  ownerDeaths: number;
}

/** Cancels a watch; idempotent. */
export interface RemoteWatch {
  /** Resolves once notices are flowing (a release after it is never missed by the watch). */
  readonly ready: Promise<void>;
  close(): void;
}

export interface LockBackend {
  /** 'redis'. */
  readonly kind: string;
  /** How long a grant lives without renewal (ms). A crashed holder's lock is free after it. */
  readonly leaseMs: number;
  /** How often a live holder renews (ms), well below leaseMs. */
  readonly renewEveryMs: number;
  /** The longest wait between two attempts of a waiter that heard no release notice (ms). */
  readonly pollMaxMs: number;
  /** This JS context's id on the backend: `<pid>:<threadId>@<host>`. */
  readonly clientId: string;
  /** One attempt for `owner`. */
  attempt(name: string, owner: string, mode: RemoteMode, options?: RemoteAttemptOptions): Promise<RemoteAttempt>;
  /** Extends `owner`'s lease. False: it holds no more (expired, stolen). */
  renew(name: string, owner: string, mode: RemoteMode): Promise<boolean>;
  /**
   * Ends `owner`'s hold and tells the waiters. False: it held nothing (already lost). `fence`:
   * the grant's, kept by the backend as a record of the last fence.
   */
  release(name: string, owner: string, mode: RemoteMode, fence?: bigint): Promise<boolean>;
  /** Withdraws a waiter registration made by `attempt(..., { queue: true })`. */
  withdraw(name: string, owner: string, mode: RemoteMode): Promise<void>;
  /** Calls `onNotice` (best effort) when a hold of `name` ends. */
  watch(name: string, onNotice: () => void): RemoteWatch;
  /** The lock's state, from the backend. */
  info(name: string): Promise<RemoteLockInfo>;
  /** Every lock with a holder or a waiter (LockManager.query()). */
  query(): Promise<{ held: RemoteEntry[]; pending: RemoteEntry[] }>;
}

/** Whether `value` looks like a LockBackend (duck-typed: backends come from other layers). */
export function isLockBackend(value: unknown): value is LockBackend {
  if (typeof value !== 'object' || value === null) return false;
  const b = value as Record<string, unknown>;
  return (
    typeof b.kind === 'string' &&
    typeof b.attempt === 'function' &&
    typeof b.renew === 'function' &&
    typeof b.release === 'function' &&
    typeof b.watch === 'function' &&
    typeof b.leaseMs === 'number'
  );
}
