/**
 * Where an object's lock lives. A Lockable stores its Mutex under {@link kInstanceLock} in its
 * constructor; an object of any other class gets one there lazily, on the first call of a
 * `@locked` method or of {@link lockOf}. One symbol for both keeps the decorators simple: they
 * only ever ask `lockOf(this)`. Runs on the calling JS thread.
 */
import { Mutex } from '../lock/mutex';
import { isHandleRef, type HandleRef } from '../wire/handle-ref';
import { typeError, validateName, valueError } from '../validate';

/** The own, non-enumerable property that holds an instance's Mutex. */
export const kInstanceLock: unique symbol = Symbol('shmsync.instanceLock');

/** What may name a lock: a Mutex handle, a mutex name, or a `{ $shmsync, name }` reference. */
export type LockSource = Mutex | string | HandleRef;

const kLockRefTypes: readonly string[] = ['Mutex', 'Lockable'];

function isObject(value: unknown): value is object {
  return (typeof value === 'object' && value !== null) || typeof value === 'function';
}

/**
 * A Mutex for `source`. A Mutex handle is returned as is (shared with the caller); a name or a
 * reference (of a Mutex or a Lockable) opens the existing mutex and never creates one, so a
 * child that receives a stale reference fails loudly instead of locking a private lock.
 */
export function toMutex(label: string, source: unknown): Mutex {
  if (source instanceof Mutex) return source;
  if (typeof source === 'string') {
    validateName(label, source);
    return new Mutex(source, { create: 'open' });
  }
  if (isHandleRef(source)) {
    if (!kLockRefTypes.includes(source.$shmsync)) {
      throw valueError(`${label}.$shmsync`, "'Mutex' or 'Lockable'", source.$shmsync);
    }
    validateName(`${label}.name`, source.name);
    return new Mutex(source.name, { create: 'open' });
  }
  throw typeError(label, 'a Mutex, a mutex name or a { $shmsync, name } reference', source);
}

/** Set by lockable.ts: the lock of a Lockable instance (kept in a private field). */
let lockableProbe: (obj: object) => Mutex | undefined = () => undefined;

/** @internal Called once by the Lockable class. */
export function setLockableProbe(probe: (obj: object) => Mutex | undefined): void {
  lockableProbe = probe;
}

function ownLock(obj: object): Mutex | undefined {
  return Object.prototype.hasOwnProperty.call(obj, kInstanceLock)
    ? (obj as { [kInstanceLock]: Mutex })[kInstanceLock]
    : lockableProbe(obj);
}

function define(obj: object, mutex: Mutex): Mutex {
  Object.defineProperty(obj, kInstanceLock, { value: mutex, enumerable: false, writable: false, configurable: false });
  return mutex;
}

/**
 * The lock of `obj`: a Lockable's own lock, the lock attached with {@link attachLock}, or - on
 * first use - a new Mutex with a unique name. Call it before handing `obj`'s state to another
 * process, and send `lockOf(obj)` (it serialises as a reference) along with it.
 *
 * ```ts
 * child.send({ state: counter.toState(), lock: lockOf(counter) });   // parent
 * attachLock(counter, message.lock);                                 // child, before any call
 * ```
 */
export function lockOf(obj: object): Mutex {
  if (!isObject(obj)) throw typeError('obj', 'an object', obj);
  return ownLock(obj) ?? define(obj, new Mutex());
}

/**
 * Makes `lock` (a Mutex, a mutex name or a reference) the lock of `obj`, typically the copy of
 * an object received from another process. Returns the Mutex. Throws when `obj` already has a
 * different lock (a lock in use is never replaced).
 */
export function attachLock(obj: object, lock: LockSource): Mutex {
  if (!isObject(obj)) throw typeError('obj', 'an object', obj);
  const existing = ownLock(obj);
  const wanted = lock instanceof Mutex ? lock.name : isHandleRef(lock) ? lock.name : lock;
  if (existing !== undefined) {
    if (existing.name === wanted) return existing;
    throw valueError('obj', `an object without a lock (it has mutex "${existing.name}")`, obj);
  }
  return define(obj, toMutex('lock', lock));
}
