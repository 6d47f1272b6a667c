/**
 * Decorators for classes that do not extend Lockable: `@locked` (seed module-level `lock`) and
 * the class-wide `@lockable` (seed `LockableMeta`) with `@lockable.ignore`
 * (seed `LockableMeta.ignore`). On a Lockable they use its lock; on any other object a lock
 * created lazily on first use (see lockOf).
 */
import type { Mutex } from '../lock/mutex';
import { typeError, valueError } from '../validate';
import type { LockingClassDecorator, LockingMethodDecorator } from './decorator-types';
import { lockOf } from './instance-lock';
import { lockPrototype, markIgnored, methodDecorator, wrapLocked } from './wrap';

function instanceLock(self: unknown): Mutex {
  if ((typeof self !== 'object' && typeof self !== 'function') || self === null) {
    throw typeError('this', 'an object (call the method on an instance)', self);
  }
  return lockOf(self);
}

/**
 * Method decorator (seed module-level `lock`): the method runs holding `lockOf(this)`, created
 * lazily with a unique name on first use. Same rules as `@Lockable.locked`.
 */
export const locked: LockingMethodDecorator = methodDecorator(
  '@locked',
  (fn) => wrapLocked(fn, instanceLock),
  true,
) as LockingMethodDecorator;

/** The `@lockable` class decorator, with its `ignore` marker. */
export interface LockableDecorator extends LockingClassDecorator {
  /** Excludes a method from `@lockable` (seed `LockableMeta.ignore`). */
  readonly ignore: LockingMethodDecorator;
}

function lockClass(value: unknown, context?: unknown): void {
  if (context !== undefined) {
    const kind = (context as { kind?: unknown } | null)?.kind;
    if (kind !== 'class')
      throw valueError('@lockable target', 'a class', typeof kind === 'string' ? `a ${kind}` : context);
  }
  if (typeof value !== 'function' || typeof value.prototype !== 'object' || value.prototype === null) {
    throw typeError('@lockable target', 'a class', value);
  }
  lockPrototype(value.prototype as object, instanceLock);
}

/**
 * Class decorator (seed `LockableMeta`): locks every own prototype method - sync and async -
 * except `constructor`, accessors, static members, `#private` methods and methods marked
 * `@lockable.ignore`. Methods inherited from a base class keep their own behaviour: decorate
 * each class. Works in both decorator flavours and as a plain call `lockable(Class)`.
 */
export const lockable: LockableDecorator = Object.assign(lockClass as LockingClassDecorator, {
  ignore: methodDecorator('@lockable.ignore', markIgnored, true) as LockingMethodDecorator,
});
