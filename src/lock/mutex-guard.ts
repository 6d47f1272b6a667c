/**
 * MutexGuard: proof of one Promise-API hold. Release it exactly once (extra releases are
 * ignored), or let `using` / `await using` release it.
 */
import { NotOwnerError, NotRecoverableError } from '../errors';
import { Status } from '../addon/status';

/**
 * What a guard needs from its engine: LockEngine (shared memory) and RemoteEngine (a remote
 * backend, remote-engine.ts) both have this shape.
 */
export interface GuardEngine {
  holds(token: number): boolean;
  ownerDiedFor(token: number): boolean;
  fenceLo(): number;
  fenceHi(): number;
  release(token: number): Status;
  markConsistent(): Status;
  /** Remote backends: the grant, whose signal aborts when its lease is lost (read lazily). */
  holdOf?(token: number): { readonly signal: AbortSignal } | undefined;
}

/** Shared memory holds are never lost behind the holder's back: one signal that never aborts. */
let neverAborted: AbortSignal | null = null;

export class MutexGuard {
  /** True when this hold was recovered from a holder that died while holding. */
  readonly ownerDied: boolean;
  readonly #fenceLo: number;
  readonly #fenceHi: number;
  /** True when this guard re-entered a hold its scope already had. */
  readonly reentrant: boolean;
  readonly #engine: GuardEngine;
  readonly #token: number;
  readonly #name: string;
  readonly #hold: { readonly signal: AbortSignal } | undefined;
  #released = false;

  /** @internal */
  constructor(engine: GuardEngine, token: number, name: string, reentrant: boolean) {
    this.#engine = engine;
    this.#token = token;
    this.#name = name;
    this.reentrant = reentrant;
    this.ownerDied = !reentrant && engine.ownerDiedFor(token);
    // The fence is read now (it is the holder's) and turned into a bigint only if asked for.
    this.#fenceLo = engine.fenceLo();
    this.#fenceHi = engine.fenceHi();
    this.#hold = engine.holdOf?.(token);
  }

  /**
   * Aborts (with `LockLostError`, `SHMSYNC_LOCK_LOST`) when this hold is lost behind the
   * holder's back: a remote backend's lease ran out (pause, partition) - stop the work the lock
   * protects. A shared-memory hold is never lost: its signal never aborts.
   */
  get signal(): AbortSignal {
    return this.#hold?.signal ?? (neverAborted ??= new AbortController().signal);
  }

  /** Fencing token: increases on every fresh acquisition of the mutex by anyone. */
  get fence(): bigint {
    return (BigInt(this.#fenceHi) << 32n) | BigInt(this.#fenceLo);
  }

  /** @internal the holder token, used by withLock to open a scope. */
  get token(): number {
    return this.#token;
  }

  get released(): boolean {
    return this.#released;
  }

  /** Releases this hold. Returns false if it was already released. */
  release(): boolean {
    if (this.#released) return false;
    this.#released = true;
    const st = this.#engine.release(this.#token);
    if (st === Status.NotOwner) {
      throw new NotOwnerError(`mutex "${this.#name}": this guard's hold is gone (the handle was closed)`);
    }
    return true;
  }

  /** Strict policy: declare the state protected by the lock repaired after an owner death. */
  markConsistent(): void {
    if (this.#released || !this.#engine.holds(this.#token)) {
      throw new NotOwnerError(`mutex "${this.#name}": markConsistent() needs the lock held by this guard`);
    }
    if (this.#engine.markConsistent() === Status.NotRecoverable) {
      throw new NotRecoverableError(`mutex "${this.#name}" is not recoverable`);
    }
  }

  [Symbol.dispose](): void {
    this.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.release();
  }
}
