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

/** What the callback receives: the granted lock (or null for an `ifAvailable` request that was not). */
export class Lock {
  readonly #name: string;
  readonly #mode: LockMode;
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
  get [Symbol.toStringTag](): string {
    return 'Lock';
  }
}

export type LockGrantedCallback<T> = (lock: Lock | null) => T | PromiseLike<T>;
