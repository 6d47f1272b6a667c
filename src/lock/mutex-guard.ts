/**
 * MutexGuard: proof of one Promise-API hold. Release it exactly once (extra releases are
 * ignored), or let `using` / `await using` release it.
 */
import { NotOwnerError, NotRecoverableError } from '../errors';
import type { LockEngine } from './lock-engine';
import { Status } from '../addon/status';

export class MutexGuard {
  /** True when this hold was recovered from a holder that died while holding. */
  readonly ownerDied: boolean;
  readonly #fenceLo: number;
  readonly #fenceHi: number;
  /** True when this guard re-entered a hold its scope already had. */
  readonly reentrant: boolean;
  readonly #engine: LockEngine;
  readonly #token: number;
  readonly #name: string;
  #released = false;

  /** @internal */
  constructor(engine: LockEngine, token: number, name: string, reentrant: boolean) {
    this.#engine = engine;
    this.#token = token;
    this.#name = name;
    this.reentrant = reentrant;
    this.ownerDied = !reentrant && engine.ownerDiedFor(token);
    // The fence is read now (it is the holder's) and turned into a bigint only if asked for.
    this.#fenceLo = engine.fenceLo();
    this.#fenceHi = engine.fenceHi();
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
