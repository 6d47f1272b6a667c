/**
 * The machinery behind every locking decorator: wrapping one method, and recognising which
 * decorator flavour called us.
 *
 * Flavours (all decorators accept all three):
 * - standard (TC39, TypeScript 5+ without `experimentalDecorators`): `(value, context)`;
 * - legacy (`experimentalDecorators`): `(target, key, descriptor)` for methods, `(class)` for
 *   classes;
 * - a plain call, for JavaScript without decorator syntax: `Lockable.locked(fn)` returns the
 *   wrapped function (the seed's `locked(method)`), `lockable(Class)` patches the class.
 */
import type { Mutex } from '../lock/mutex';
import { typeError, validateFunction, valueError } from '../validate';

/** Any method: what the locking decorators accept. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyMethod = (this: any, ...args: any[]) => any;

/** Marks a wrapper; the value is the original method. */
export const kLocked: unique symbol = Symbol('shmsync.locked');
/** Marks a method that `@lockable` must leave alone. */
export const kIgnored: unique symbol = Symbol('shmsync.lockable.ignore');

const AsyncFunction = (async () => {}).constructor;

/** Whether `fn` is already a locking wrapper. */
export function isLocked(fn: unknown): boolean {
  return typeof fn === 'function' && kLocked in fn;
}

/**
 * Wraps `fn` so that it runs holding `lockFor(this)`:
 * - an `async` function goes through the Promise API (`Mutex.withLock`): the event loop never
 *   blocks and the hold lasts until its promise settles;
 * - any other function takes the lock with the blocking API (`Mutex.runLocked`); if it returns
 *   a thenable anyway, the hold lasts until that settles and a Promise is returned.
 * Both open a lock scope, so locked calls nested inside (sync or async) re-enter.
 */
export function wrapLocked<F extends AnyMethod>(fn: F, lockFor: (self: unknown) => Mutex): F {
  if (isLocked(fn)) return fn;
  const isAsync = fn instanceof AsyncFunction;
  const locked = function (this: unknown, ...args: unknown[]): unknown {
    const lock = lockFor(this);
    const call = (): unknown => fn.apply(this, args);
    return isAsync ? lock.withLock(call) : lock.runLocked(call);
  };
  Object.defineProperty(locked, 'name', { value: fn.name, configurable: true });
  Object.defineProperty(locked, 'length', { value: fn.length, configurable: true });
  Object.defineProperty(locked, kLocked, { value: fn });
  return locked as unknown as F;
}

/** Marks `fn` as ignored by `@lockable` (in place) and returns it. */
export function markIgnored<F extends AnyMethod>(fn: F): F {
  Object.defineProperty(fn, kIgnored, { value: true, configurable: true });
  return fn;
}

interface StandardContext {
  kind: string;
  static?: boolean;
}

function isStandardContext(value: unknown): value is StandardContext {
  return typeof value === 'object' && value !== null && typeof (value as StandardContext).kind === 'string';
}

/**
 * A method decorator of every flavour from a transform of the method. `label` names the
 * decorator in error messages; `allowStatic` false rejects static methods.
 */
export function methodDecorator(
  label: string,
  transform: (fn: AnyMethod) => AnyMethod,
  allowStatic: boolean,
): (...args: unknown[]) => unknown {
  const rejectStatic = (): never => {
    throw valueError(`${label} target`, 'an instance method', 'a static method');
  };
  return function decorate(value: unknown, context?: unknown, descriptor?: unknown): unknown {
    if (context === undefined && descriptor === undefined) {
      validateFunction(label, value); // plain call: wrap and return the function
      return transform(value as AnyMethod);
    }
    if (isStandardContext(context) && descriptor === undefined) {
      if (context.kind !== 'method') throw valueError(`${label} target`, 'a method', `a ${context.kind}`);
      if (context.static === true && !allowStatic) rejectStatic();
      validateFunction(label, value);
      return transform(value as AnyMethod);
    }
    // Legacy: (prototype or constructor, key, descriptor).
    const d = descriptor as PropertyDescriptor | undefined;
    if (typeof d !== 'object' || d === null || typeof d.value !== 'function') {
      throw typeError(`${label} target`, 'a method', d?.get !== undefined || d?.set !== undefined ? 'an accessor' : d);
    }
    if (typeof value === 'function' && !allowStatic) rejectStatic();
    d.value = transform(d.value as AnyMethod);
    return d;
  };
}

/**
 * Protocol methods `@lockable` never locks: the runtime, other libraries and other processes call
 * them on the object implicitly, often while the object is handed to someone else, so taking the
 * lock there blocks (or throws DeadlockError) where no critical section was meant.
 * - `constructor`: not a method of instances.
 * - `toJSON`: serialisation (`child.send`, the json queue codec, pcall and queue handle
 *   references); sending a locked object to a child must not wait for that child's lock.
 * - `toString`, `toLocaleString`, `valueOf`, `Symbol.toPrimitive`, `util.inspect.custom`:
 *   implicit conversions, string templates, logging and debugging.
 * - `close`, `Symbol.dispose`, `Symbol.asyncDispose`: teardown runs even while another process
 *   holds the lock (or died holding it), and a Lockable's `close()` closes the very mutex a
 *   locked wrapper would then have to release.
 * - `Symbol.iterator`, `Symbol.asyncIterator`: they return an iterator; a lock would cover only
 *   its creation, never the iteration (generator methods are skipped for the same reason).
 * A method named here is still locked when decorated explicitly (`@Lockable.locked`, `@locked`).
 */
export const kProtocolMethods: ReadonlySet<PropertyKey> = new Set<PropertyKey>([
  'constructor',
  'toJSON',
  'toString',
  'toLocaleString',
  'valueOf',
  Symbol.toPrimitive,
  Symbol.for('nodejs.util.inspect.custom'),
  'close',
  Symbol.dispose,
  Symbol.asyncDispose,
  Symbol.iterator,
  Symbol.asyncIterator,
]);

const GeneratorFunction = function* () {}.constructor;
const AsyncGeneratorFunction = async function* () {}.constructor;

/** Locks every own method of `proto` (see `@lockable` for what counts as one). */
export function lockPrototype(proto: object, lockFor: (self: unknown) => Mutex): void {
  for (const key of Reflect.ownKeys(proto)) {
    if (kProtocolMethods.has(key)) continue;
    const d = Object.getOwnPropertyDescriptor(proto, key);
    if (d === undefined || d.get !== undefined || d.set !== undefined || typeof d.value !== 'function') continue;
    const fn = d.value as AnyMethod;
    if (kIgnored in fn || isLocked(fn)) continue;
    if (fn instanceof GeneratorFunction || fn instanceof AsyncGeneratorFunction) continue;
    Object.defineProperty(proto, key, { ...d, value: wrapLocked(fn, lockFor) });
  }
}
