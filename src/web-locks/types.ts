/**
 * The Web Locks API's types (https://w3c.github.io/web-locks/ IDL: LockMode, LockOptions,
 * LockInfo, LockManagerSnapshot, Lock, LockGrantedCallback).
 */
export type LockMode = 'shared' | 'exclusive';

export interface LockOptions {
  mode?: LockMode;
  ifAvailable?: boolean;
  steal?: boolean;
  signal?: AbortSignal;
}

export interface LockInfo {
  name: string;
  mode: LockMode;
  clientId: string;
}

export interface LockManagerSnapshot {
  held: LockInfo[];
  pending: LockInfo[];
}

/** @internal Marks a Lock stolen (LockManager only; not a public method). */
export const kMarkStolen = Symbol('shmsync.lock.markStolen');

/** What the callback receives: the granted lock (or null for an `ifAvailable` request that was not). */
export class Lock {
  readonly #name: string;
  readonly #mode: LockMode;
  #stolen = false;
  #controller: AbortController | null = null;
  /** @internal */
  constructor(name: string, mode: LockMode) {
    this.#name = name;
    this.#mode = mode;
  }
  get name(): string {
    return this.#name;
  }
  get mode(): LockMode {
    return this.#mode;
  }
  /** Extension: true once another request (of any process) stole this lock with `steal: true`. */
  get stolen(): boolean {
    return this.#stolen;
  }
  /**
   * Extension: aborted (with an `AbortError` DOMException) when the lock is stolen, so a callback
   * can stop the work the lock protected (pass it to fetch, streams, timers...).
   */
  get signal(): AbortSignal {
    if (this.#controller === null) {
      this.#controller = new AbortController();
      if (this.#stolen) this.#controller.abort(stolenError(this.#name));
    }
    return this.#controller.signal;
  }
  /** @internal the manager found the hold stolen. */
  [kMarkStolen](): void {
    if (this.#stolen) return;
    this.#stolen = true;
    this.#controller?.abort(stolenError(this.#name));
  }
  get [Symbol.toStringTag](): string {
    return 'Lock';
  }
}

export type LockGrantedCallback<T> = (lock: Lock | null) => T | PromiseLike<T>;

/** The AbortError a stolen lock's request rejects with (and its signal aborts with). */
export function stolenError(name: string): Error {
  return new DOMException(`lock "${name}" was stolen`, 'AbortError');
}
