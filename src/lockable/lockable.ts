/**
 * Lockable: the pyATS `synchronize.Lockable` base class over a shmsync Mutex. Each instance owns
 * one cross-process, reentrant lock; `@Lockable.locked` methods run holding it.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Mutex, type AcquireOptions, type AcquireSyncOptions, type MutexGuard } from '../lock/mutex';
import type { Lifetime } from '../addon/lifetime';
import type { LockBackend } from '../lock/lock-backend';
import { registerHandleType, type HandleRef } from '../wire/handle-ref';
import {
  optionsObject,
  rejectUnknownOptions,
  typeError,
  validateFunction,
  validateName,
  valueError,
} from '../validate';
import type { LockingMethodDecorator } from './decorator-types';
import { kInstanceLock, setLockableProbe, toMutex, type LockSource } from './instance-lock';
import { methodDecorator, wrapLocked } from './wrap';

/** Options of `new Lockable()`: at most one of `name` and `lock`. */
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
  /**
   * Lifetime of a mutex this instance creates: `'attached'` (default without `name`: removed
   * when the last user releases it - close, garbage collection, exit), or `'persistent'`
   * (default with `name`: stays until `lock.unlink()`). Not with `lock`.
   */
  lifetime?: Lifetime;
  /**
   * A remote lock backend (`createRedisBackend(...)`): the instance's mutex lives there
   * (`new Mutex(name, { backend })`); locked methods must then be `async` (the blocking API does
   * not exist on a remote backend). Not with `lock` or `lifetime`. See docs/redis.md.
   */
  backend?: LockBackend;
}

/** Options of `Sub.register()`. */
export interface LockableRegistration {
  /** Name carried by references (default: the class name). */
  name?: string;
  /** Builds an instance from a reference (default: `Sub.from(ref)`, i.e. `new Sub({ lock: ref })`). */
  revive?: (ref: HandleRef) => Lockable;
  /**
   * The module that defines and registers the class (a path or file URL), which pcall children
   * load to rebuild its instances (arguments, method targets). Default: the file that called
   * `register()`, unless that is the program's main script (a child must not run it again).
   */
  module?: string | URL;
}

/** What pcall needs to know about a registered class. */
export interface LockableRegistrationInfo {
  readonly name: string;
  readonly cls: abstract new (...args: never[]) => Lockable;
  /** Module that registers it, for a child to load; undefined if unknown (see `reason`). */
  readonly module: string | undefined;
  /** Why `module` is undefined. */
  readonly reason?: string;
}

/** A Lockable subclass as `register` sees it. */
type LockableClass = (new (options: LockableOptions) => Lockable) & {
  from(ref: LockSource): Lockable;
  readonly name: string;
};
const registry = new Map<
  string,
  { cls: LockableClass; revive: (ref: HandleRef) => Lockable; module: string | undefined; reason?: string }
>();

/** Files of this package: frames inside them are not "the caller". */
const kPackageDir = path.resolve(__dirname, '..');

function isMainScript(file: string): boolean {
  const main = require.main?.filename ?? (process.argv[1] ? path.resolve(process.argv[1]) : undefined);
  return (
    main !== undefined && (file === main || file.replace(/\.[cm]?[jt]s$/, '') === main.replace(/\.[cm]?[jt]s$/, ''))
  );
}

/**
 * The module that called `register()`: the first stack frame outside this package. Runs in the
 * registering process, once per registration.
 */
function callerModule(register: (...args: never[]) => unknown): { module: string | undefined; reason?: string } {
  const prepare = Error.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  let sites: NodeJS.CallSite[];
  try {
    Error.prepareStackTrace = (_err, callSites) => callSites;
    Error.stackTraceLimit = 30;
    const holder: { stack?: NodeJS.CallSite[] } = {};
    Error.captureStackTrace(holder, register);
    sites = holder.stack ?? [];
  } finally {
    Error.prepareStackTrace = prepare;
    Error.stackTraceLimit = limit;
  }
  for (const site of sites) {
    let file = site.getFileName() ?? undefined;
    if (file === undefined || file.startsWith('node:')) continue;
    if (file.startsWith('file:')) file = fileURLToPath(file);
    if (!path.isAbsolute(file) || file.startsWith(kPackageDir + path.sep)) continue;
    if (isMainScript(file))
      return {
        module: undefined,
        reason: `it was registered in the main script ${file}, which a child must not run again`,
      };
    return { module: file };
  }
  return { module: undefined, reason: 'the module that registered it is unknown' };
}

/** pcall: the registration of a class name, or undefined if no class registered that name. */
export function lockableRegistration(name: string): LockableRegistrationInfo | undefined {
  const entry = registry.get(name);
  if (entry === undefined) return undefined;
  return {
    name,
    cls: entry.cls,
    module: entry.module,
    ...(entry.reason === undefined ? {} : { reason: entry.reason }),
  };
}

/** pcall: every registered class, by registered name. */
export function registeredClasses(): Array<[string, abstract new (...args: never[]) => unknown]> {
  return [...registry].map(([name, entry]) => [name, entry.cls]);
}

/** pcall: the registered class name an instance travels under (undefined for a base Lockable). */
export function registeredNameOf(obj: Lockable): string | undefined {
  const ctor = obj.constructor as { readonly [kClassName]?: string; readonly name: string };
  return ctor === Lockable ? undefined : (ctor[kClassName] ?? ctor.name);
}
const kClassName = Symbol('shmsync.lockableClassName');

const kNoOptions: Record<string, unknown> = Object.freeze({});

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
  readonly #lock: Mutex;
  readonly #ownsHandle: boolean;
  #disposing = false;

  constructor(options?: LockableOptions) {
    let mutex: Mutex;
    let opts: Record<string, unknown> = kNoOptions;
    if (options === undefined) {
      mutex = new Mutex(); // anonymous, attached; its segment is created on first use
    } else {
      opts = optionsObject('options', options);
      rejectUnknownOptions('options', opts, ['name', 'lock', 'lifetime', 'backend'], { mutex: 'lock' });
      const lifetime = opts.lifetime as Lifetime | undefined;
      if (opts.backend !== undefined) {
        if (opts.lock !== undefined)
          throw valueError('options.lock', 'omitted when options.backend is given', opts.lock);
        if (opts.name !== undefined) validateName('options.name', opts.name);
        // Mutex validates the backend and rejects lifetime with it.
        mutex = new Mutex(opts.name as string | undefined, {
          backend: opts.backend as LockBackend,
          ...(lifetime === undefined ? {} : { lifetime }),
        });
      } else if (opts.lock !== undefined) {
        if (opts.name !== undefined) throw valueError('options.name', 'omitted when options.lock is given', opts.name);
        if (lifetime !== undefined)
          throw valueError('options.lifetime', 'omitted when options.lock is given', lifetime);
        mutex = toMutex('options.lock', opts.lock);
      } else if (opts.name !== undefined) {
        validateName('options.name', opts.name);
        mutex = new Mutex(opts.name, lifetime === undefined ? undefined : { lifetime });
      } else {
        mutex = new Mutex(undefined, lifetime === undefined ? undefined : { lifetime });
      }
    }
    this.#ownsHandle = !(opts.lock instanceof Mutex);
    this.#lock = mutex; // a private field: cheaper than a defined own property, and read-only
  }

  /** Where the decorators and `lockOf` find the instance's lock (src/lockable/instance-lock.ts). */
  get [kInstanceLock](): Mutex {
    return this.#lock;
  }

  /** @internal The lock of a Lockable (for `lockOf`), or undefined for any other object. */
  static #probe(obj: object): Mutex | undefined {
    return #lock in obj ? (obj as Lockable).#lock : undefined;
  }

  static {
    setLockableProbe((obj) => Lockable.#probe(obj));
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

  /**
   * Reference form `{ $shmsync: 'Lockable', name }` (plus `class` for a subclass), reopened by
   * `Sub.from(ref)` or `reviveHandle` (which builds the registered subclass, else a Lockable).
   * Subclasses with shared state extend it: `{ ...super.toJSON(), stock: this.stock }`.
   */
  toJSON(): HandleRef {
    const ctor = this.constructor as { readonly [kClassName]?: string; readonly name: string };
    const name = this[kInstanceLock].toJSON().name; // a hand-off: creates and leases the lock
    // A subclass reports its registered name (or its nearest registered ancestor's).
    return ctor === Lockable
      ? { $shmsync: 'Lockable', name }
      : { $shmsync: 'Lockable', name, class: ctor[kClassName] ?? ctor.name };
  }

  /**
   * Closes the mutex handle this instance opened (not one passed in as `options.lock`); the
   * lock itself stays for other handles (`lock.unlink()` removes it). Idempotent.
   */
  close(): void {
    if (this.#ownsHandle) this[kInstanceLock].close();
  }

  /**
   * `using` support: runs `close()` (a subclass's override included). A subclass `close()` may
   * itself call `this[Symbol.dispose]()` or `super.close()`: the re-entrant call only closes the
   * instance's own mutex handle.
   */
  [Symbol.dispose](): void {
    if (this.#disposing) {
      if (this.#ownsHandle) this[kInstanceLock].close();
      return;
    }
    this.#disposing = true;
    try {
      this.close();
    } finally {
      this.#disposing = false;
    }
  }

  /**
   * An instance of this class over an existing lock: `Sub.from(ref)` is `new Sub({ lock: ref })`
   * (a subclass whose constructor takes other arguments should forward `{ lock }` to `super`).
   */
  static from<T extends Lockable>(this: new (options: LockableOptions) => T, ref: LockSource): T {
    return new this({ lock: ref });
  }

  /**
   * Registers this subclass so that `reviveHandle` (pcall arguments, queue messages) rebuilds
   * references to its instances: with `options.revive(ref)`, else `Sub.from(ref)`. Call it at
   * module scope, where every process loads the class. `options.name` (default: the class name)
   * must be unique; it travels in the reference as `class`. The registering module is recorded
   * (`options.module`, default the caller's file) so pcall children can load it.
   */
  static register(this: LockableClass, options: LockableRegistration = {}): void {
    const opts = optionsObject('options', options);
    rejectUnknownOptions('options', opts, ['name', 'revive', 'module']);
    const name = opts.name ?? this.name;
    validateName('options.name', name);
    if (opts.revive !== undefined) validateFunction('options.revive', opts.revive);
    const previous = registry.get(name);
    if (previous !== undefined && previous.cls !== this) {
      throw valueError('options.name', 'a name no other class registered', name);
    }
    const revive = (opts.revive as LockableRegistration['revive']) ?? ((ref: HandleRef) => this.from(ref));
    let where: { module: string | undefined; reason?: string };
    if (opts.module !== undefined) {
      const m = opts.module as unknown;
      if (m instanceof URL) where = { module: m.protocol === 'file:' ? fileURLToPath(m) : m.href };
      else if (typeof m === 'string' && m !== '')
        where = { module: m.startsWith('file:') ? fileURLToPath(m) : path.resolve(m) };
      else throw typeError('options.module', 'a non-empty string or a URL', m);
    } else {
      where = callerModule(Lockable.register as (...args: never[]) => unknown);
    }
    registry.set(name, { cls: this, revive, ...where });
    Object.defineProperty(this, kClassName, { value: name, configurable: true });
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

registerHandleType(
  'Lockable',
  (ref) => {
    const entry = typeof ref.class === 'string' ? registry.get(ref.class) : undefined;
    return entry === undefined ? new Lockable({ lock: ref }) : entry.revive(ref);
  },
  Lockable,
);
