/**
 * RwLockGuard: proof of one Promise-API hold of an RwLock. Release it exactly once (extra
 * releases are ignored), or let `using` / `await using` release it. JS thread of the holder.
 */
import { NotOwnerError } from '../errors';
import { Status } from '../addon/status';
import type { RwEngine, RwMode } from './rw-engine';

export class RwLockGuard {
  /** 'shared' or 'exclusive': the mode of the hold this guard proves. */
  readonly mode: RwMode;
  /** True when this acquisition reclaimed the share of a holder that died (any mode). */
  readonly ownerDied: boolean;
  /** True when this guard re-entered a hold its scope already had. */
  readonly reentrant: boolean;
  readonly #engine: RwEngine;
  readonly #token: number;
  readonly #name: string;
  #released = false;

  /** @internal */
  constructor(engine: RwEngine, token: number, name: string, mode: RwMode, reentrant: boolean, ownerDied: boolean) {
    this.#engine = engine;
    this.#token = token;
    this.#name = name;
    this.mode = mode;
    this.reentrant = reentrant;
    this.ownerDied = ownerDied;
  }

  /** @internal the holder token (withShared/withExclusive open a scope with it). */
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
    if (this.#engine.release(this.#token) === Status.NotOwner) {
      throw new NotOwnerError(`rwlock "${this.#name}": this guard's hold is gone (the handle was closed)`);
    }
    return true;
  }

  [Symbol.dispose](): void {
    this.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.release();
  }
}
