/**
 * Lockable: the pyATS `synchronize.Lockable` base class over a shmsync Mutex. Each instance owns
 * one cross-process, reentrant lock; `@Lockable.locked` methods run holding it.
 */
import { Mutex, type AcquireOptions, type AcquireSyncOptions, type MutexGuard } from '../core/mutex';
import { registerHandleType, type HandleRef } from '../core/handle-ref';
import { optionsObject, rejectUnknownOptions, typeError, validateName, valueError } from '../validate';
import type { LockingMethodDecorator } from './decorator-types';
import { kInstanceLock, toMutex, type LockSource } from './instance-lock';
import { methodDecorator, wrapLocked } from './wrap';

export interface LockableOptions {
  /**
   * Logical name of the instance's mutex, opened or created: independent processes that
   * construct with the same name share the lock. Default: a unique name.
   */
  name?: string;
  /**
   * Use an existing lock: a Mutex handle (shared with the caller, not closed by this instance),
   * or the name or `{ $shmsync, name }` reference of an existing mutex (opened, never created) -
   * e.g. what `instance.lock` or `instance` became after crossing to a child process.
   */
  lock?: LockSource;
}

function lockableLock(self: unknown): Mutex {
  if (!(self instanceof Lockable)) throw typeError('this', 'an instance of Lockable', self);
  return self.lock;
}

/**
 * Base class of objects whose methods must never interleave across processes and threads.
 *
 * ```ts
 * class Device extends Lockable {
 *   @Lockable.locked execute(cmd: string) { ... }          // blocking acquire
 *   @Lockable.locked async configure(cfg: Config) { ... }   // Promise acquire, held until settled
 * }
 * const d = new Device();
 * child.send({ device: d });                 // crosses as { $shmsync: 'Lockable', name }
 * const copy = Device.from(message.device);  // in the child: the same lock
 * ```
 */
export class Lockable {
  declare readonly [kInstanceLock]: Mutex;
  readonly #ownsHandle: boolean;

  constructor(options: LockableOptions = {}) {
    const opts = optionsObject('options', options);
    rejectUnknownOptions('options', opts, ['name', 'lock'], { mutex: 'lock' });
    let mutex: Mutex;
    if (opts.lock !== undefined) {
      if (opts.name !== undefined) throw valueError('options.name', 'omitted when options.lock is given', opts.name);
      mutex = toMutex('options.lock', opts.lock);
    } else if (opts.name !== undefined) {
      validateName('options.name', opts.name);
      mutex = new Mutex(opts.name);
    } else {
      mutex = new Mutex();
    }
    this.#ownsHandle = !(opts.lock instanceof Mutex);
    Object.defineProperty(this, kInstanceLock, { value: mutex, enumerable: false, writable: false, configurable: false });
  }

  /** The instance's Mutex (for `info()`, `ownerDied`, `withLock`, `close()`, `unlink()`...). */
  get lock(): Mutex {
    return this[kInstanceLock];
  }

  /**
   * Blocking acquire (seed `acquire(blocking=True, timeout=None)`): reentrant for the calling
   * thread or lock scope. Returns false when `blocking: false` finds it held, or on timeout (ms).
   */
  acquireSync(options?: AcquireSyncOptions): boolean {
    return this[kInstanceLock].acquireSync(options);
  }

  /** One non-blocking attempt (`acquireSync({ blocking: false })`). */
  tryAcquire(): boolean {
    return this[kInstanceLock].tryAcquire();
  }

  /**
   * Promise acquire: resolves with a guard to release (or `using`); rejects with
   * `SHMSYNC_TIMEOUT` or an `AbortError`. Re-enters inside a locked method or `lock.withLock`.
   */
  acquire(options?: AcquireOptions): Promise<MutexGuard> {
    return this[kInstanceLock].acquire(options);
  }

  /**
   * Releases one level of a hold taken with `acquireSync`/`tryAcquire` (or inside a locked
   * method). Nested holds are released in reverse order. Throws `NotOwnerError`
   * (`SHMSYNC_NOT_OWNER`) when the caller does not hold the lock - the seed's AssertionError.
   */
  release(): void {
    this[kInstanceLock].release();
  }

  /** Reference form: `{ $shmsync: 'Lockable', name }`, reopened by `Lockable.from` / `reviveHandle`. */
  toJSON(): HandleRef {
    return { $shmsync: 'Lockable', name: this[kInstanceLock].name };
  }

  /** Closes the mutex handle this instance opened (not one passed in as `options.lock`). */
  [Symbol.dispose](): void {
    if (this.#ownsHandle) this[kInstanceLock].close();
  }

  /**
   * An instance of this class over an existing lock: `Sub.from(ref)` is `new Sub({ lock: ref })`
   * (a subclass whose constructor takes other arguments should forward `{ lock }` to `super`).
   */
  static from<T extends Lockable>(this: new (options: LockableOptions) => T, ref: LockSource): T {
    return new this({ lock: ref });
  }

  /**
   * Method decorator (seed `Lockable.locked`): the method runs holding the instance's lock;
   * released on return, throw and rejection; reentrant. Both decorator flavours, or a plain
   * call `Lockable.locked(fn)`.
   */
  static readonly locked: LockingMethodDecorator = methodDecorator(
    '@Lockable.locked',
    (fn) => wrapLocked(fn, lockableLock),
    false,
  ) as LockingMethodDecorator;
}

registerHandleType('Lockable', (ref) => new Lockable({ lock: ref }));
