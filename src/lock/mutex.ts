/**
 * Mutex: a cross-process, cross-thread, reentrant lock that survives a holder being killed.
 * Thin facade: validates, maps statuses to errors, and delegates to the per-context
 * LockEngine (lock-engine.ts). Runs on the calling JS thread.
 */
import { EventEmitter } from 'node:events';
import { binding } from '../addon/binding';
import {
  AbortError,
  ClosedError,
  ExistsError,
  NotOwnerError,
  OwnerDeadError,
  PolicyMismatchError,
  ShmsyncError,
  SyncReentryError,
  TimeoutError,
  UnsupportedError,
} from '../errors';
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
  valueError,
} from '../validate';
import { registerHandleType, type HandleRef } from '../wire/handle-ref';
import { isAcquired, LockEngine, ownerId } from './lock-engine';
import { freshToken, kThreadToken, runInScope, runInScopeSync, scopeToken } from './lock-scope';
import { MutexGuard } from './mutex-guard';
import { isLockBackend, type LockBackend } from './lock-backend';
import { RemoteEngine, type RemoteListeners } from './remote-engine';
import { afterRelease, kFlagAttached, lifetimeFlag, noteAttached, type Lifetime } from '../addon/lifetime';
import { segmentNameFor, uniqueName, unlinkByName } from '../addon/names';
import { permissionMode, type CreateMode } from '../shared-memory/shared-memory';
import { Status, statusError as tableError } from '../addon/status';

export type OwnerDeathPolicy = 'recover' | 'strict';

export interface MutexOptions {
  /** Permission bits when this call creates the segment (default 0o600). */
  mode?: number;
  /** What the next acquirer sees when a holder dies: see docs/concepts/crash-recovery.md. */
  onOwnerDeath?: OwnerDeathPolicy;
  /** Default 'openOrCreate' with a name, 'create' without. */
  create?: CreateMode;
  /**
   * For a mutex this call creates: `'attached'` (default without a name) is removed when the
   * last handle of every process is released; `'persistent'` (default with a name) stays
   * until `unlink`. See docs/concepts/naming-and-lifetime.md.
   */
  lifetime?: Lifetime;
  /**
   * Who may re-enter a hold taken with the blocking API (acquireSync and friends) outside any
   * lock scope. 'stack' (default): only the synchronous run that took it (true recursion); a
   * re-entry from a later tick - the hold was kept across an `await` and another task of the
   * thread enters - throws `SHMSYNC_SYNC_REENTRY`. 'thread': blocking-API acquisitions through
   * this handle re-enter the thread's hold from any tick (no exclusion between the thread's
   * async tasks: only for code that knows it re-enters). Per handle: it decides for the calls
   * made through it, whichever handle took the hold.
   */
  reentry?: ReentryMode;
  /**
   * A remote backend (`createRedisBackend(...)`): the lock lives there, shared by every host
   * that uses the same name and server. Only the Promise API exists then (acquire, withLock,
   * async locked methods, infoAsync); a hold is leased and may be lost (`guard.signal`, the
   * `'lost'` event). Not with mode, onOwnerDeath, create, lifetime or reentry. See docs/redis.md.
   */
  backend?: LockBackend;
}

export type ReentryMode = 'stack' | 'thread';

export interface AcquireSyncOptions {
  /** false: try once (seed `block=False`). Default true. */
  blocking?: boolean;
  /** Milliseconds; undefined or Infinity waits forever. */
  timeout?: number;
}

export interface AcquireOptions {
  timeout?: number;
  signal?: AbortSignal;
}

export interface MutexInfo {
  name: string;
  locked: boolean;
  /** `host`: set by remote backends (the holder's hostname); `alive` there means "its lease runs". */
  holder: { pid: number; threadId: number; alive: boolean; host?: string } | null;
  depth: number;
  waiters: number;
  acquisitions: bigint;
  ownerDeaths: number;
  onOwnerDeath: OwnerDeathPolicy;
  recoverable: boolean;
}

const kCreateModes: readonly CreateMode[] = ['open', 'create', 'openOrCreate'];
const kModeNumber: Record<CreateMode, number> = { open: 0, create: 1, openOrCreate: 2 };
const kPolicies: readonly OwnerDeathPolicy[] = ['recover', 'strict'];
const kReentryModes: readonly ReentryMode[] = ['stack', 'thread'];

/** Engines of this JS context by segment name: handles of one segment share one engine. */
const engines = new Map<string, LockEngine>();
/**
 * The open handles of each engine: the ones that hear its 'ownerDied' events. Held weakly, so
 * that an attached mutex's handle can be garbage-collected (see `collected`).
 */
const openHandles = new WeakMap<LockEngine, Set<WeakRef<Mutex>>>();

/** How a collected handle of an attached mutex gives its share of the engine back. */
interface Collected {
  engine: LockEngine;
  segment: string;
  ref: WeakRef<Mutex>;
}

/**
 * Garbage collection of a handle (attached or persistent): like close(), unless this context still
 * holds the lock through that engine (a hold is never dropped behind the holder's back; it
 * ends with the context).
 */
const collected = new FinalizationRegistry<Collected>(({ engine, segment, ref }) => {
  openHandles.get(engine)?.delete(ref);
  releaseEngine(engine, segment, true);
});

function releaseEngine(e: LockEngine, segment: string, byGc: boolean): void {
  // Still held or awaited after a collection: the engine (and its segment) stays for the context's life.
  if (e.unretain(byGc)) engines.delete(segment);
}

/** Creation deferred to first use: an anonymous mutex costs no segment until it is needed. */
interface Deferred {
  perm: number;
  policy: number;
  lifetime: number;
}
const kAnonymous: Deferred = Object.freeze({ perm: 0o600, policy: 0, lifetime: kFlagAttached });

/** Remote engines of this JS context: by backend, then by lock name. */
const remoteEngines = new WeakMap<LockBackend, Map<string, RemoteEngine>>();

/** A dropped remote handle gives its share of the engine back (like `collected` for shm). */
const remoteCollected = new FinalizationRegistry<{ engine: RemoteEngine; listeners: RemoteListeners }>(
  ({ engine, listeners }) => {
    if (engine.unretain(listeners, true)) {
      const byName = remoteEngines.get(engine.backend);
      if (byName?.get(engine.name) === engine) byName.delete(engine.name);
    }
  },
);

/** Details the mutex adds to the status table's default messages (src/addon/status.ts). */
function statusError(status: Status, name: string): ShmsyncError {
  let detail: string | undefined;
  if (status === Status.Closed) detail = 'the wait ended because this thread or the process is exiting';
  else if (status === Status.Deadlock)
    detail = 'this thread already holds it through another async context; blocking would deadlock';
  return tableError(status, `mutex "${name}"`, detail);
}

function syncReentryError(name: string): SyncReentryError {
  return new SyncReentryError(
    `mutex "${name}": this thread took it with the blocking API (acquireSync, tryAcquire, withLockSync ` +
      'or a non-async locked method) in an earlier tick and still holds it, so the hold was kept across ' +
      'an await or a callback; re-entering it now from another task of the thread would give no ' +
      'exclusion. Hold a lock across await with acquire() / withLock() or an async locked method ' +
      "(or open the handle that re-enters with { reentry: 'thread' } if re-entering from later ticks is intended)",
  );
}

/**
 * A named lock shared by every process and thread that opens the same name.
 *
 * ```ts
 * const m = new Mutex('cache-rebuild');
 * await m.withLock(async () => rebuild());   // Promise API, reentrant inside fn
 * if (m.acquireSync({ timeout: 100 })) { try { work() } finally { m.release() } }
 * ```
 * Events: `'ownerDied'` on every open handle of this mutex in this JS context when one of their
 * acquisitions recovered the lock from a dead holder.
 */
export class Mutex extends EventEmitter {
  #name: string | null = null;
  #engine: LockEngine | null = null;
  #deferred: Deferred | null = null;
  #closed = false;
  #ref: WeakRef<Mutex> | null = null;
  /** Option reentry: 'thread' (sync-run.ts): no synchronous-run check for this handle. */
  #threadReentry = false;
  /** A remote backend's engine (options.backend); then #engine and #deferred stay null. */
  #remote: RemoteEngine | null = null;
  #remoteListeners: RemoteListeners | null = null;

  constructor(name?: string, options?: MutexOptions) {
    super();
    if (name === undefined && options === undefined) {
      this.#deferred = kAnonymous; // the common anonymous case (a Lockable, a @locked object)
      return;
    }
    const opts = optionsObject('options', options);
    rejectUnknownOptions('options', opts, ['mode', 'onOwnerDeath', 'create', 'lifetime', 'reentry', 'backend'], {
      policy: 'onOwnerDeath',
      perm: 'mode',
    });
    if (name !== undefined) validateName('name', name);
    if (opts.backend !== undefined) {
      this.#attachRemote(name, opts);
      return;
    }
    if (opts.onOwnerDeath !== undefined) validateOneOf('options.onOwnerDeath', opts.onOwnerDeath, kPolicies);
    let create: CreateMode = name === undefined ? 'create' : 'openOrCreate';
    if (opts.create !== undefined) {
      validateOneOf('options.create', opts.create, kCreateModes);
      create = opts.create;
    }
    const perm = permissionMode(opts.mode);
    if (opts.reentry !== undefined) validateOneOf('options.reentry', opts.reentry, kReentryModes);
    this.#threadReentry = opts.reentry === 'thread';
    const lifetime = lifetimeFlag(opts.lifetime, name !== undefined);
    const policy = opts.onOwnerDeath === 'strict' ? 1 : 0;
    this.#name = name ?? null;
    if (name === undefined && create === 'create') {
      // Nobody else can know this name before it is used or handed off: create it then.
      this.#deferred = { perm, policy, lifetime };
      return;
    }
    this.#attach(create, perm, policy, lifetime, opts.onOwnerDeath);
  }

  #attachRemote(name: string | undefined, opts: Record<string, unknown>): void {
    const backend = opts.backend;
    if (!isLockBackend(backend)) throw valueError('options.backend', 'a lock backend (createRedisBackend)', backend);
    for (const key of ['mode', 'onOwnerDeath', 'create', 'lifetime', 'reentry']) {
      if (opts[key] !== undefined) throw valueError(`options.${key}`, 'omitted with options.backend', opts[key]);
    }
    const lockName = (this.#name = name ?? uniqueName('mutex'));
    let byName = remoteEngines.get(backend);
    if (byName === undefined) remoteEngines.set(backend, (byName = new Map()));
    let engine = byName.get(lockName);
    if (engine === undefined) byName.set(lockName, (engine = new RemoteEngine(backend, lockName)));
    // The engine holds its handles weakly: a dropped handle can be collected (remoteCollected).
    const ref = new WeakRef<Mutex>(this);
    const listeners: RemoteListeners = {
      ownerDied: () => ref.deref()?.emit('ownerDied', { name: lockName }),
      lost: (error, fence) => ref.deref()?.emit('lost', { name: lockName, fence, error }),
    };
    engine.retain(listeners);
    remoteCollected.register(this, { engine, listeners }, listeners);
    this.#remote = engine;
    this.#remoteListeners = listeners;
  }

  /** The backend's kind ('redis'), or 'shm' for a shared-memory mutex. */
  get backend(): string {
    return this.#remote === null ? 'shm' : this.#remote.backend.kind;
  }

  /**
   * The logical name. An anonymous mutex gets a unique one when first asked, and its segment is
   * created then: a name that has left this object (sent to a child, given to `new Lockable({
   * lock: name })`) must name a lock that exists.
   */
  get name(): string {
    const name = (this.#name ??= uniqueName('mutex'));
    if (this.#deferred !== null) this.#open();
    return name;
  }

  #attach(create: CreateMode, perm: number, policy: number, lifetime: number, wanted?: OwnerDeathPolicy): LockEngine {
    const segment = segmentNameFor(this.name);
    let engine = engines.get(segment);
    if (engine !== undefined && create === 'create') {
      throw new ExistsError(`mutex "${this.name}" already exists (open in this thread)`);
    }
    if (engine === undefined) {
      ownerId(); // claim the context's id with its threadId before the native side claims it
      const native = new binding.Mutex(segment, kModeNumber[create], perm, policy, lifetime);
      if (native.attached) {
        noteAttached();
        // The engine closes the native handle; hear whether that left a hand-off lingering.
        const close = native.close.bind(native);
        Object.defineProperty(native, 'close', {
          value: () => {
            const r = close();
            afterRelease(segment, r);
            return r;
          },
        });
      }
      engine = new LockEngine(native, this.name);
      engines.set(segment, engine);
    } else {
      // This thread maps the segment already: no native open runs, so do what an open's CAS does
      // to a pending hand-off - consume one (a reference revived here would otherwise keep an
      // attached segment for the whole lease, ~30 s, after the last close).
      engine.consumeHandoff();
    }
    const actual = engine.strict ? 'strict' : 'recover';
    if (wanted !== undefined && wanted !== actual) {
      if (engine.unused) {
        engine.shutdown();
        engines.delete(segment);
      }
      throw new PolicyMismatchError(`mutex "${this.name}" exists with onOwnerDeath '${actual}', not '${wanted}'`);
    }
    engine.retain();
    let handles = openHandles.get(engine);
    if (handles === undefined) {
      const open = new Set<WeakRef<Mutex>>();
      openHandles.set(engine, open);
      // The handles share the engine's hold, so each open one hears of a recovery; closed
      // handles are dropped from the set (they must neither emit nor be kept alive by it).
      engine.onOwnerDeath(() => {
        for (const r of open) {
          const h = r.deref();
          if (h !== undefined) h.emit('ownerDied', { name: h.name });
        }
      });
      handles = open;
    }
    const ref = new WeakRef<Mutex>(this);
    handles.add(ref);
    this.#ref = ref;
    this.#engine = engine;
    // Every handle, attached or persistent: a dropped handle gives its share of the engine
    // back (and the last one the mapping), or its WeakRef and the engine stay forever.
    collected.register(this, { engine, segment, ref }, ref);
    return engine;
  }

  /** `'attached'` or `'persistent'`: recorded in the segment by its creator. */
  get lifetime(): Lifetime {
    if (this.#remote !== null) return 'persistent';
    if (this.#deferred !== null) return this.#deferred.lifetime !== 0 ? 'attached' : 'persistent';
    return this.#open().attached ? 'attached' : 'persistent';
  }

  /** The owner-death policy fixed when the mutex was created. */
  get onOwnerDeath(): OwnerDeathPolicy {
    if (this.#remote !== null) return 'recover';
    if (this.#deferred !== null) return this.#deferred.policy === 1 ? 'strict' : 'recover';
    return this.#open().strict ? 'strict' : 'recover';
  }

  /** True while the current thread/scope holds the lock. */
  get isHeld(): boolean {
    if (this.#remote !== null) return this.#remoteHolds();
    if (this.#deferred !== null) return false; // never used yet: nobody can hold it
    const e = this.#open();
    return e.holds(scopeToken(e) ?? kThreadToken);
  }

  /** True when the caller's current hold was recovered from a dead holder. */
  get ownerDied(): boolean {
    if (this.#remote !== null) {
      const r = this.#remote;
      return r.ownerDiedFor(scopeToken(r) ?? 0);
    }
    if (this.#deferred !== null) return false;
    const e = this.#open();
    return e.ownerDiedFor(scopeToken(e) ?? kThreadToken);
  }

  /**
   * Blocking acquire (seed `acquire(block, timeout)`): the owner is this JS thread (or the
   * enclosing lock scope). Returns false on timeout or, with `blocking: false`, when held.
   * Throws `SHMSYNC_DEADLOCK` when this thread holds it through another async context.
   */
  acquireSync(options?: AcquireSyncOptions): boolean {
    // The hot path (docs/concepts/lock-protocol.md, "Fast path"): no option parsing, one engine
    // call that is a CAS when nobody of the context holds or awaits the lock. Kept small so V8
    // inlines all of it into the caller.
    if (options !== undefined) return this.#acquireSyncWith(options);
    const e = this.#engine ?? this.#open();
    const st = e.acquireSync(scopeToken(e) ?? this.#threadToken(e), true, -1);
    return st === Status.Ok || this.#outcome(st);
  }

  #acquireSyncWith(options: AcquireSyncOptions): boolean {
    const opts = optionsObject('options', options);
    rejectUnknownOptions('options', opts, ['blocking', 'timeout'], { block: 'blocking' });
    const blocking = opts.blocking ?? true;
    validateBoolean('options.blocking', blocking);
    const timeout = validateTimeout('options.timeout', opts.timeout);
    return this.#acquireSync(blocking, timeout);
  }

  /** One non-blocking attempt. */
  tryAcquire(): boolean {
    return this.#acquireSync(false, 0);
  }

  /** Releases one level of the calling thread's (or scope's) hold. */
  release(): void {
    const e = this.#engine ?? this.#open();
    const st = e.release(scopeToken(e) ?? kThreadToken);
    if (st !== Status.Ok) this.#releaseFailed(e, st);
  }

  #releaseFailed(e: LockEngine, st: Status): never {
    if (st === Status.NotOwner) {
      throw new NotOwnerError(
        `mutex "${this.name}" is not held by the caller` +
          (e.heldHere ? ' (it is held by another async context of this thread: release its guard)' : ''),
      );
    }
    throw statusError(st, this.name);
  }

  /**
   * Promise acquire: never blocks the event loop. Inside a lock scope of this mutex (withLock,
   * a locked method) it re-enters; otherwise it is a new holder that excludes every other.
   */
  acquire(options?: AcquireOptions): Promise<MutexGuard> {
    if (this.#remote !== null) return this.#remoteAcquire(options);
    let timeout: number;
    let signal: AbortSignal | undefined;
    let e: LockEngine;
    try {
      ({ timeout, signal } = validateWaitOptions(options));
      e = this.#open();
    } catch (err) {
      return Promise.reject(err);
    }
    if (signal?.aborted) return Promise.reject(abortErrorFor(signal));
    const token = scopeToken(e) ?? freshToken();
    if (e.reenter(token)) return Promise.resolve(new MutexGuard(e, token, this.name, true));
    // Uncontended: no await, no N-API call (the CAS is done from JS on the mapped word).
    if (e.acquireNow(token)) return Promise.resolve(new MutexGuard(e, token, this.name, false));
    return this.#acquireSlow(e, token, timeout, signal);
  }

  async #acquireSlow(
    e: LockEngine,
    token: number,
    timeout: number,
    signal: AbortSignal | undefined,
  ): Promise<MutexGuard> {
    const outcome = await e.acquireAsync(token, timeout, signal);
    if (outcome === 'abort') throw abortErrorFor(signal!);
    if (outcome === 'closed') throw new ClosedError(`mutex "${this.name}" was closed while waiting`);
    if (!isAcquired(outcome)) throw statusError(outcome, this.name);
    const guard = new MutexGuard(e, token, this.name, false);
    if (outcome === Status.OwnerDead && e.strict) throw ownerDeadError(this.name, guard);
    return guard;
  }

  /** Runs `fn` holding the lock (reentrant inside); releases on return, throw or rejection. */
  async withLock<T>(fn: () => T | Promise<T>, options?: AcquireOptions): Promise<T> {
    validateFunction('fn', fn);
    const guard = await this.acquire(options);
    const remote = this.#remote;
    try {
      return await runInScope(remote ?? this.#open(), guard.token, fn);
    } finally {
      guard.release();
      // Remote: settle once the lock is free on the server (the next acquirer anywhere can have it).
      if (remote !== null) await remote.released();
    }
  }

  /** Synchronous form of withLock (blocking acquire). */
  withLockSync<T>(fn: () => T, options?: AcquireSyncOptions): T {
    validateFunction('fn', fn);
    if (!this.acquireSync(options)) throw new TimeoutError(`mutex "${this.name}": timed out`);
    try {
      return fn();
    } finally {
      this.release();
    }
  }

  /**
   * Runs `fn` holding the lock taken with the blocking API, in a lock scope of this mutex: every
   * acquire of it inside `fn` - and in the continuations of a promise `fn` returns - re-enters.
   * A thenable result keeps the hold until it settles and a Promise of its outcome is returned;
   * otherwise the lock is released before returning. Unless the caller already holds the lock,
   * the scope gets a fresh holder token, so a hold that outlives the call still excludes this
   * thread's other async contexts. Used by `@Lockable.locked` for methods not declared `async`.
   */
  runLocked<T>(fn: () => T, options?: AcquireSyncOptions): T {
    validateFunction('fn', fn);
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
    const token = scopeToken(e) ?? (e.holds(kThreadToken) ? this.#threadToken(e) : freshToken());
    if (!this.#acquireSync(blocking, timeout, token)) throw new TimeoutError(`mutex "${this.name}": timed out`);
    let scope: { result: T; leave: () => void };
    try {
      scope = runInScopeSync(e, token, fn);
    } catch (err) {
      e.release(token); // the error of fn wins over a failed release
      throw err;
    }
    const { result, leave } = scope;
    const done = (): void => {
      leave();
      const st = e.release(token);
      if (st !== Status.Ok) throw statusError(st, this.name);
    };
    if (!isThenable(result)) {
      done();
      return result;
    }
    return Promise.resolve(result).then(
      (value) => {
        done();
        return value;
      },
      (err: unknown) => {
        done();
        throw err;
      },
    ) as T;
  }

  /** Strict policy: the caller repaired the state after `ownerDied`; the lock stays usable. */
  markConsistent(): void {
    const e = this.#open();
    if (!e.holds(scopeToken(e) ?? kThreadToken))
      throw new NotOwnerError(`mutex "${this.name}" is not held by the caller`);
    const st = e.markConsistent();
    if (st !== Status.Ok) throw statusError(st, this.name);
  }

  /**
   * info() for every backend: a remote mutex answers from its server (one round trip); a
   * shared-memory one resolves with info().
   */
  infoAsync(): Promise<MutexInfo> {
    const r = this.#remote;
    if (r === null) {
      try {
        return Promise.resolve(this.info());
      } catch (err) {
        return Promise.reject(err);
      }
    }
    if (this.#closed) return Promise.reject(new ClosedError(`mutex "${this.name}" is closed`));
    return r.info().then((n) => {
      const h = n.held[0];
      const who = h === undefined ? null : /^(\d+):(\d+)@(.*)$/.exec(h.clientId);
      return {
        name: this.name,
        locked: h !== undefined,
        holder:
          h === undefined
            ? null
            : {
                pid: Number(who?.[1] ?? 0),
                threadId: Number(who?.[2] ?? 0),
                alive: true,
                host: who?.[3] ?? h.clientId,
              },
        depth: h === undefined ? 0 : Math.max(1, r.localDepth),
        waiters: n.pending.length,
        acquisitions: n.fence,
        ownerDeaths: n.ownerDeaths,
        onOwnerDeath: 'recover',
        recoverable: true,
      };
    });
  }

  info(): MutexInfo {
    const e = this.#open();
    const n = e.info();
    return {
      name: this.name,
      locked: n.locked,
      holder: n.locked ? { pid: n.holderPid, threadId: n.holderThreadId, alive: n.holderAlive } : null,
      depth: n.depth,
      waiters: n.waiters,
      acquisitions: n.acquisitions,
      ownerDeaths: n.ownerDeaths,
      onOwnerDeath: e.strict ? 'strict' : 'recover',
      recoverable: n.consistency !== 2,
    };
  }

  /** Closes this handle. The last handle of the context releases a hold and fails waiters. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#deferred = null;
    const r = this.#remote;
    if (r !== null) {
      remoteCollected.unregister(this.#remoteListeners!);
      if (r.unretain(this.#remoteListeners!)) {
        const byName = remoteEngines.get(r.backend);
        if (byName?.get(r.name) === r) byName.delete(r.name);
      }
      return;
    }
    const e = this.#engine;
    if (e === null) return;
    this.#engine = null;
    const ref = this.#ref!;
    collected.unregister(ref);
    openHandles.get(e)?.delete(ref);
    releaseEngine(e, segmentNameFor(this.name), false);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Removes the name; open handles keep working. Returns false if it did not exist. */
  unlink(): boolean {
    if (this.#remote !== null) return false; // a remote lock has no segment (its keys expire)
    if (this.#deferred !== null) return false; // never created: nothing to remove
    return Mutex.unlink(this.name);
  }

  static unlink(name: string): boolean {
    return unlinkByName(name);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  toJSON(): HandleRef {
    // A reference is a hand-off: the segment must exist, and outlive this handle until opened.
    if (!this.#closed && this.#remote === null) this.#open().lease();
    return { $shmsync: 'Mutex', name: this.name };
  }

  #acquireSync(blocking: boolean, timeout: number, token?: number): boolean {
    const e = this.#open();
    const st = e.acquireSync(token ?? scopeToken(e) ?? this.#threadToken(e), blocking, timeout);
    return st === Status.Ok || this.#outcome(st);
  }

  /** What a blocking acquisition that did not return Ok means: true (held), false, or a throw. */
  #outcome(st: Status): boolean {
    if (st === Status.Ok) return true;
    if (st === Status.OwnerDead) {
      if (this.#open().strict) throw ownerDeadError(this.name, null);
      return true;
    }
    if (st === Status.Timeout || st === Status.WouldBlock) return false;
    throw statusError(st, this.name);
  }

  /**
   * The blocking API's holder token outside any lock scope: the thread. When the thread holds
   * `e` already, that is true recursion only within the synchronous run that took the hold
   * (sync-run.ts; the engine records it): otherwise the hold crossed a tick, throw.
   */
  #threadToken(e: LockEngine): number {
    return this.#threadReentry || !e.threadHoldCrossedRun() ? kThreadToken : this.#syncReentry();
  }

  #syncReentry(): never {
    throw syncReentryError(this.name);
  }

  #remoteOnly(): never {
    if (this.#closed) throw new ClosedError(`mutex "${this.name}" is closed`);
    throw unsupportedOnRemote(this.name, this.#remote!.backend.kind);
  }

  #remoteHolds(): boolean {
    const r = this.#remote!;
    const token = scopeToken(r);
    return token !== undefined ? r.holds(token) : false;
  }

  /** acquire() on a remote backend: same options, outcomes and errors as the shared-memory path. */
  #remoteAcquire(options: AcquireOptions | undefined): Promise<MutexGuard> {
    let timeout: number;
    let signal: AbortSignal | undefined;
    try {
      ({ timeout, signal } = validateWaitOptions(options));
      if (this.#closed) throw new ClosedError(`mutex "${this.name}" is closed`);
    } catch (err) {
      return Promise.reject(err);
    }
    if (signal?.aborted) return Promise.reject(abortErrorFor(signal));
    const r = this.#remote!;
    const token = scopeToken(r) ?? freshToken();
    if (r.reenter(token)) return Promise.resolve(new MutexGuard(r, token, this.name, true));
    return r.acquire(token, timeout, signal).then((outcome) => {
      if (outcome === 'abort') throw abortErrorFor(signal!);
      if (outcome === 'closed') throw new ClosedError(`mutex "${this.name}" was closed while waiting`);
      if (outcome !== Status.Ok) throw statusError(outcome, this.name);
      return new MutexGuard(r, token, this.name, false);
    });
  }

  #open(): LockEngine {
    if (this.#engine !== null) return this.#engine;
    if (this.#remote !== null) return this.#remoteOnly();
    const d = this.#deferred;
    if (d === null) throw new ClosedError(`mutex "${this.name}" is closed`);
    this.#deferred = null;
    return this.#attach('create', d.perm, d.policy, d.lifetime);
  }
}

export function unsupportedOnRemote(name: string, kind: string): UnsupportedError {
  return new UnsupportedError(
    `mutex "${name}" lives on the ${kind} backend: the blocking API (acquireSync, tryAcquire, release, ` +
      'withLockSync, runLocked, non-async locked methods), info() and markConsistent() need shared memory. ' +
      'Use acquire() / withLock() / async locked methods and infoAsync()',
  );
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

function ownerDeadError(name: string, guard: MutexGuard | null): OwnerDeadError {
  const err = new OwnerDeadError(
    `mutex "${name}": the previous holder died while holding it. You hold it now: repair the ` +
      'protected state and call markConsistent() before releasing, or the lock becomes unrecoverable',
  );
  Object.defineProperty(err, 'guard', { value: guard, enumerable: false });
  return err;
}

registerHandleType('Mutex', (ref) => new Mutex(ref.name, { create: 'open' }), Mutex);

export { MutexGuard };
export type { AbortError };
