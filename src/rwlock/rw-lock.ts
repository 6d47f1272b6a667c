/**
 * RwLock: a cross-process, cross-thread reader/writer lock that survives any holder being
 * killed. Many shared holders or one exclusive holder; grants in request order (a waiting
 * exclusive request is not overtaken by later shared ones). Thin facade: validates, maps
 * statuses to errors, delegates to the per-context RwEngine. Runs on the calling JS thread.
 *
 * Reentrancy (per holder token, as for Mutex: the thread for the blocking API, the lock scope of
 * withShared/withExclusive for the Promise API, else a fresh token per acquire):
 * - holding exclusive, any acquire re-enters (a shared acquire is covered by the exclusive hold);
 * - holding shared, a shared acquire re-enters;
 * - holding shared, an exclusive acquire throws SHMSYNC_DEADLOCK (an upgrade waits for every
 *   shared holder, itself included: it could only deadlock). Release, then acquire exclusive.
 */
import { ClosedError, ExistsError, NotOwnerError, TimeoutError } from '../errors';
import { statusError, upgradeError } from './rw-errors';
import {
  abortErrorFor,
  optionsObject,
  rejectUnknownOptions,
  validateBoolean,
  validateFunction,
  validateName,
  validateOneOf,
  validateTimeout,
  validateWaitOptions,
} from '../validate';
import { Status } from '../addon/status';
import { segmentNameFor, uniqueName, unlinkByName } from '../addon/names';
import { afterRelease, leaseHandoff, lifetimeFlag, noteAttached, type Lifetime } from '../addon/lifetime';
import { registerHandleType, type HandleRef } from '../wire/handle-ref';
import { permissionMode, type CreateMode } from '../shared-memory/shared-memory';
import { freshToken, kThreadToken, runInScope, scopeToken } from '../lock/lock-scope';
import { ownerId } from '../lock/lock-engine';
import { nativeRwLock } from './native';
import { isGranted, RwEngine, type RwHold, type RwMode } from './rw-engine';
import { RwLockGuard } from './rw-guard';

export interface RwLockOptions {
  /** Permission bits when this call creates the segment (default 0o600). */
  mode?: number;
  /** Default 'openOrCreate' with a name, 'create' without. */
  create?: CreateMode;
  /** 'attached' (default without a name) or 'persistent' (default with a name). */
  lifetime?: Lifetime;
}

export interface RwAcquireSyncOptions {
  /** false: try once. Default true. */
  blocking?: boolean;
  /** Milliseconds; undefined or Infinity waits forever. */
  timeout?: number;
}

export interface RwAcquireOptions {
  timeout?: number;
  signal?: AbortSignal;
}

export interface RwLockInfo {
  name: string;
  /** Current holders across all processes, in grant order. */
  holders: { pid: number; threadId: number; mode: RwMode }[];
  /** Queued requests across all processes, in request order. */
  waiting: { pid: number; threadId: number; mode: RwMode }[];
  acquisitions: bigint;
  ownerDeaths: number;
}

const kCreateModes: readonly CreateMode[] = ['open', 'create', 'openOrCreate'];
const kModeNumber: Record<CreateMode, number> = { open: 0, create: 1, openOrCreate: 2 };

/** Engines of this JS context by segment name: handles of one segment share one engine. */
const engines = new Map<string, RwEngine>();

/**
 * A named reader/writer lock shared by every process and thread that opens the same name.
 *
 * ```ts
 * const rw = new RwLock('config');
 * await rw.withShared(async () => read());        // many readers at once
 * await rw.withExclusive(async () => write());    // one writer, no reader
 * ```
 */
export class RwLock {
  #name: string;
  #engine: RwEngine | null;
  #closed = false;

  constructor(name?: string, options?: RwLockOptions) {
    const opts = optionsObject('options', options);
    rejectUnknownOptions('options', opts, ['mode', 'create', 'lifetime'], { perm: 'mode' });
    if (name !== undefined) validateName('name', name);
    let create: CreateMode = name === undefined ? 'create' : 'openOrCreate';
    if (opts.create !== undefined) {
      validateOneOf('options.create', opts.create, kCreateModes);
      create = opts.create;
    }
    const perm = permissionMode(opts.mode);
    const lifetime = lifetimeFlag(opts.lifetime, name !== undefined);
    this.#name = name ?? uniqueName('rwlock');
    this.#engine = RwLock.attach(this.#name, create, perm, lifetime);
  }

  /** @internal Opens (or shares) the context's engine of `name`; used by LockManager too. */
  static attach(name: string, create: CreateMode, perm: number, lifetime: number, label?: Buffer): RwEngine {
    const segment = segmentNameFor(name);
    let engine = engines.get(segment);
    if (engine !== undefined && create === 'create') {
      throw new ExistsError(`rwlock "${name}" already exists (open in this thread)`);
    }
    if (engine === undefined) {
      ownerId(); // claim the context's id with its threadId before the native side claims it
      const native = nativeRwLock(segment, kModeNumber[create], perm, lifetime, label);
      if (native.attached) {
        noteAttached();
        const close = native.close.bind(native);
        Object.defineProperty(native, 'close', {
          value: () => {
            const r = close();
            afterRelease(segment, r);
            return r;
          },
        });
      }
      engine = new RwEngine(native);
      engines.set(segment, engine);
    } else {
      // This thread maps the segment already: no native open runs, so do what an open's CAS
      // does to a pending hand-off - consume one (a reference revived here would otherwise keep
      // an attached segment for the whole lease, ~30 s, after the last close).
      engine.native.consumeHandoff();
    }
    engine.refs += 1;
    return engine;
  }

  /** @internal Gives back one reference taken by attach(); the last one shuts the engine down. */
  static detach(name: string, engine: RwEngine): void {
    engine.refs -= 1;
    if (engine.refs !== 0) return;
    engines.delete(segmentNameFor(name));
    engine.shutdown();
  }

  get name(): string {
    return this.#name;
  }

  get lifetime(): Lifetime {
    return this.#open().native.attached ? 'attached' : 'persistent';
  }

  /** The mode the caller (thread or lock scope) holds the lock in, or null. */
  get heldMode(): RwMode | null {
    const e = this.#open();
    return e.holds.get(scopeToken(e) ?? kThreadToken)?.mode ?? null;
  }

  /** True when the caller's current hold reclaimed the share of a holder that died. */
  get ownerDied(): boolean {
    const e = this.#open();
    return e.holds.get(scopeToken(e) ?? kThreadToken)?.ownerDied ?? false;
  }

  /** Blocking shared acquire. Returns false on timeout or, with `blocking: false`, when not grantable now. */
  acquireSharedSync(options?: RwAcquireSyncOptions): boolean {
    return this.#acquireSync('shared', options);
  }

  /** Blocking exclusive acquire. Returns false on timeout or, with `blocking: false`, when not grantable now. */
  acquireExclusiveSync(options?: RwAcquireSyncOptions): boolean {
    return this.#acquireSync('exclusive', options);
  }

  /** One non-blocking shared attempt (request order respected: false while an exclusive request waits). */
  tryAcquireShared(): boolean {
    return this.#acquireSync('shared', { blocking: false });
  }

  /** One non-blocking exclusive attempt. */
  tryAcquireExclusive(): boolean {
    return this.#acquireSync('exclusive', { blocking: false });
  }

  /** Releases one level of the calling thread's (or scope's) hold, in whichever mode it holds. */
  release(): void {
    const e = this.#open();
    const st = e.release(scopeToken(e) ?? kThreadToken);
    if (st === Status.NotOwner) throw new NotOwnerError(`rwlock "${this.#name}" is not held by the caller`);
    if (st !== Status.Ok) throw statusError(st, this.#name);
  }

  /** Promise shared acquire: never blocks the event loop. */
  acquireShared(options?: RwAcquireOptions): Promise<RwLockGuard> {
    return this.#acquire('shared', options);
  }

  /** Promise exclusive acquire: never blocks the event loop. */
  acquireExclusive(options?: RwAcquireOptions): Promise<RwLockGuard> {
    return this.#acquire('exclusive', options);
  }

  /** Runs `fn` holding the lock shared (reentrant inside); releases on return, throw or rejection. */
  withShared<T>(fn: () => T | Promise<T>, options?: RwAcquireOptions): Promise<T> {
    return this.#with('shared', fn, options);
  }

  /** Runs `fn` holding the lock exclusively (reentrant inside); releases on return, throw or rejection. */
  withExclusive<T>(fn: () => T | Promise<T>, options?: RwAcquireOptions): Promise<T> {
    return this.#with('exclusive', fn, options);
  }

  /** Synchronous withShared (blocking acquire); throws SHMSYNC_TIMEOUT on timeout. */
  withSharedSync<T>(fn: () => T, options?: RwAcquireSyncOptions): T {
    return this.#withSync('shared', fn, options);
  }

  /** Synchronous withExclusive (blocking acquire); throws SHMSYNC_TIMEOUT on timeout. */
  withExclusiveSync<T>(fn: () => T, options?: RwAcquireSyncOptions): T {
    return this.#withSync('exclusive', fn, options);
  }

  info(): RwLockInfo {
    const e = this.#open();
    const snap = e.native.snapshot();
    if (typeof snap === 'number') throw statusError(snap, this.#name);
    const n = e.native.info();
    const view = (x: (typeof snap)[number]) => ({
      pid: x.pid,
      threadId: x.threadId,
      mode: (x.exclusive ? 'exclusive' : 'shared') as RwMode,
    });
    return {
      name: this.#name,
      holders: snap
        .filter((x) => x.held)
        .sort((a, b) => (a.order - b.order) | 0)
        .map(view),
      waiting: snap
        .filter((x) => !x.held)
        .sort((a, b) => (a.ticket - b.ticket) | 0)
        .map(view),
      acquisitions: n.acquisitions,
      ownerDeaths: n.ownerDeaths,
    };
  }

  /** Closes this handle. The last handle of the context releases its holds and fails its waits. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const e = this.#engine;
    this.#engine = null;
    if (e !== null) RwLock.detach(this.#name, e);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Removes the name; open handles keep working. Returns false if it did not exist. */
  unlink(): boolean {
    return RwLock.unlink(this.#name);
  }

  static unlink(name: string): boolean {
    return unlinkByName(name);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** A handle reference (`{ $shmsync: 'RwLock', name }`): reopens the same lock elsewhere. */
  toJSON(): HandleRef {
    // A reference is a hand-off: an attached lock must outlive this handle until it is opened.
    if (!this.#closed) leaseHandoff(this.#open().native);
    return { $shmsync: 'RwLock', name: this.#name };
  }

  #open(): RwEngine {
    if (this.#engine === null) throw new ClosedError(`rwlock "${this.#name}" is closed`);
    return this.#engine;
  }

  /** Re-entry of an existing hold by the same token (see the header); true when it re-entered. */
  #reenter(hold: RwHold | undefined, mode: RwMode): boolean {
    if (hold === undefined) return false;
    if (hold.mode === 'shared' && mode === 'exclusive') throw upgradeError(this.#name);
    hold.depth += 1;
    return true;
  }

  #acquireSync(mode: RwMode, options?: RwAcquireSyncOptions): boolean {
    let blocking = true;
    let timeout = -1;
    if (options !== undefined) {
      const opts = optionsObject('options', options);
      rejectUnknownOptions('options', opts, ['blocking', 'timeout'], { block: 'blocking' });
      const b = opts.blocking ?? true;
      validateBoolean('options.blocking', b);
      blocking = b;
      timeout = validateTimeout('options.timeout', opts.timeout);
    }
    const e = this.#open();
    const token = scopeToken(e) ?? kThreadToken;
    if (this.#reenter(e.holds.get(token), mode)) return true;
    const st = e.acquireSync(token, mode, blocking, timeout);
    if (isGranted(st)) return true;
    if (st === Status.Timeout || st === Status.WouldBlock) return false;
    throw statusError(st, this.#name);
  }

  #acquire(mode: RwMode, options?: RwAcquireOptions): Promise<RwLockGuard> {
    let timeout: number;
    let signal: AbortSignal | undefined;
    let e: RwEngine;
    try {
      ({ timeout, signal } = validateWaitOptions(options));
      e = this.#open();
    } catch (err) {
      return Promise.reject(err);
    }
    if (signal?.aborted) return Promise.reject(abortErrorFor(signal));
    const scoped = scopeToken(e);
    if (scoped !== undefined) {
      try {
        if (this.#reenter(e.holds.get(scoped), mode)) {
          return Promise.resolve(new RwLockGuard(e, scoped, this.#name, mode, true, false));
        }
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const token = scoped ?? freshToken();
    return e.acquireAsync(token, mode, timeout, signal).then((outcome) => {
      if (outcome === 'abort') throw abortErrorFor(signal!);
      if (outcome === 'closed') throw new ClosedError(`rwlock "${this.#name}" was closed while waiting`);
      if (!isGranted(outcome)) throw statusError(outcome, this.#name);
      return new RwLockGuard(e, token, this.#name, mode, false, outcome === Status.OwnerDead);
    });
  }

  async #with<T>(mode: RwMode, fn: () => T | Promise<T>, options?: RwAcquireOptions): Promise<T> {
    validateFunction('fn', fn);
    const guard = await this.#acquire(mode, options);
    try {
      return await runInScope(this.#open(), guard.token, fn);
    } finally {
      guard.release();
    }
  }

  #withSync<T>(mode: RwMode, fn: () => T, options?: RwAcquireSyncOptions): T {
    validateFunction('fn', fn);
    if (!this.#acquireSync(mode, options)) throw new TimeoutError(`rwlock "${this.#name}": timed out`);
    try {
      return fn();
    } finally {
      this.release();
    }
  }
}

registerHandleType('RwLock', (ref) => new RwLock(ref.name, { create: 'open' }), RwLock);

export { RwLockGuard };
export type { RwMode };
