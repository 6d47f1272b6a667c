/**
 * The Web Locks API (https://w3c.github.io/web-locks/) across processes and threads:
 * `locks.request(name, [options], callback)` and `locks.query()`, built on RwLock.
 *
 * Every lock name of a namespace is one attached RwLock segment
 * (`weblocks-<euid>-<namespace>-<sha256(name)>`, the name itself stored in the segment's label;
 * both as UTF-16 code units, so names with lone surrogates stay distinct and exact),
 * opened while this context has a request for it and removed when no process has it open. The
 * RwLock's entry table is the Web Locks queue: request order, shared/exclusive grants, steal.
 * `query()` lists the namespace's segments and reads each table. Runs on the calling JS thread.
 */
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import { forgetParked, onParkedUnref } from '../addon/parker-client';
import { kFlagAttached } from '../addon/lifetime';
import { Status } from '../addon/status';
import { freshToken } from '../lock/lock-scope';
import { isLockBackend, type LockBackend } from '../lock/lock-backend';
import { acquireRemote, RemoteHold } from '../lock/remote-hold';
import { permissionMode } from '../shared-memory/shared-memory';
import { optionsObject, rejectUnknownOptions } from '../validate';
import { kSteal, kTryOnly } from '../rwlock/native';
import { isGranted, type RwEngine } from '../rwlock/rw-engine';
import { statusError } from '../rwlock/rw-errors';
import { RwLock } from '../rwlock/rw-lock';
import { domError, parseRequest, type Parsed } from './request-args';
import {
  kMarkStolen,
  Lock,
  stolenError,
  type LockGrantedCallback,
  type LockInfo,
  type LockManagerSnapshot,
  type LockOptions,
} from './types';

export {
  Lock,
  type LockGrantedCallback,
  type LockInfo,
  type LockManagerSnapshot,
  type LockMode,
  type LockOptions,
} from './types';

export interface LockManagerOptions {
  /** Locks of different namespaces never meet. Default 'default'. [A-Za-z0-9_.-], 1-64 chars. */
  namespace?: string;
  /** Permission bits of the lock segments this manager creates (default 0o600). */
  mode?: number;
  /**
   * A remote lock backend (`createRedisBackend(...)`): the locks live there, shared by every host
   * using the same server and namespace. Leased holds: a hold whose lease is lost ends like a
   * stolen one. Not with `mode`. See docs/redis.md.
   */
  backend?: LockBackend;
}

const kNamespacePattern = /^[A-Za-z0-9_.-]{1,64}$/;

/** A request of this context that holds its lock now (steal notices reach it through here). */
interface Active {
  engine: RwEngine;
  token: number;
  stolen(): void;
}
const active = new Set<Active>();

function euid(): number {
  return typeof process.geteuid === 'function' ? process.geteuid() : 0;
}

/** Idle lock segments a manager keeps open (most recently used), so a repeated request of a
 * name costs no shm_open/mmap/unlink; beyond it the least recently used is closed. */
export const kIdleLocksKept = 64;

export class LockManager {
  readonly #prefix: string;
  /** options.namespace (remote lock names: `weblocks:<namespace>:<name>`, the same on every host). */
  readonly #namespace: string;
  readonly #perm: number;
  /** Lock name -> an engine reference kept while no request of this manager uses the name. */
  readonly #idle = new Map<string, { logical: string; engine: RwEngine }>();
  /** options.backend, or null for shared memory. */
  readonly #backend: LockBackend | null = null;
  /** Remote holds of this manager now, by lock name (a local steal ends them at once). */
  readonly #remoteHolds = new Map<string, Set<RemoteHold>>();

  constructor(options?: LockManagerOptions) {
    const opts = optionsObject('options', options);
    rejectUnknownOptions('options', opts, ['namespace', 'mode', 'backend']);
    if (opts.backend !== undefined) {
      if (!isLockBackend(opts.backend)) {
        throw new TypeError(
          'options.backend must be a lock backend (createRedisBackend), received ' + typeof opts.backend,
        );
      }
      if (opts.mode !== undefined) throw new TypeError('options.mode must be omitted with options.backend');
      this.#backend = opts.backend;
    }
    const ns = opts.namespace ?? 'default';
    if (typeof ns !== 'string' || !kNamespacePattern.test(ns)) {
      throw new TypeError(
        `options.namespace must be 1-64 characters of [A-Za-z0-9_.-], received ${JSON.stringify(ns)}`,
      );
    }
    this.#perm = permissionMode(opts.mode);
    this.#prefix = `weblocks-${euid()}-${ns}-`;
    this.#namespace = ns;
  }

  /** The clientId this JS context appears under in query(): `<pid>:<threadId>`. */
  get clientId(): string {
    if (this.#backend !== null) return this.#backend.clientId;
    return clientIdOf(process.pid, threadId);
  }

  request<T>(name: string, callback: LockGrantedCallback<T>): Promise<T>;
  request<T>(name: string, options: LockOptions, callback: LockGrantedCallback<T>): Promise<T>;
  request<T>(...args: unknown[]): Promise<T> {
    let parsed: Parsed<T>;
    try {
      parsed = parseRequest<T>(args);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#run(parsed);
  }

  /**
   * Closes the lock segments this manager keeps open for names no request of it uses now
   * (at most kIdleLocksKept, most recently used). The manager stays usable. Returns how many.
   */
  trim(): number {
    const n = this.#idle.size;
    for (const ref of this.#idle.values()) RwLock.detach(ref.logical, ref.engine);
    this.#idle.clear();
    return n;
  }

  /** Every held and pending lock of this namespace, across all processes and threads. */
  async query(): Promise<LockManagerSnapshot> {
    if (this.#backend !== null) return this.#queryRemote(this.#backend);
    const held: LockInfo[] = [];
    const pending: LockInfo[] = [];
    const segPrefix = `shmsync-${this.#prefix}`;
    let files: string[];
    try {
      files = readdirSync('/dev/shm').filter((f) => f.startsWith(segPrefix));
    } catch {
      files = [];
    }
    for (const file of files.sort()) {
      const logical = file.slice('shmsync-'.length);
      let engine: RwEngine;
      try {
        engine = RwLock.attach(logical, 'open', this.#perm, kFlagAttached);
      } catch {
        continue; // removed meanwhile, or not ours (another kind, another owner table)
      }
      try {
        const snap = engine.native.snapshot();
        if (typeof snap === 'number') continue;
        const name = engine.native.label().toString('utf16le');
        const info = (x: (typeof snap)[number]): LockInfo => ({
          name,
          mode: x.exclusive ? 'exclusive' : 'shared',
          clientId: clientIdOf(x.pid, x.threadId),
        });
        held.push(
          ...snap
            .filter((x) => x.held)
            .sort((a, b) => (a.order - b.order) | 0)
            .map(info),
        );
        pending.push(
          ...snap
            .filter((x) => !x.held)
            .sort((a, b) => (a.ticket - b.ticket) | 0)
            .map(info),
        );
      } finally {
        RwLock.detach(logical, engine);
      }
    }
    return { held, pending };
  }

  /** An engine reference for `name`: an idle one, or a fresh attach. */
  #take(name: string): { logical: string; engine: RwEngine } {
    const idle = this.#idle.get(name);
    if (idle !== undefined) {
      this.#idle.delete(name);
      return idle;
    }
    const logical = this.#prefix + createHash('sha256').update(Buffer.from(name, 'utf16le')).digest('hex').slice(0, 32);
    return {
      logical,
      engine: RwLock.attach(logical, 'openOrCreate', this.#perm, kFlagAttached, Buffer.from(name, 'utf16le')),
    };
  }

  /** Gives a reference back: kept idle (most recent last) or detached. */
  #give(name: string, ref: { logical: string; engine: RwEngine }): void {
    if (this.#idle.has(name)) {
      RwLock.detach(ref.logical, ref.engine);
      return;
    }
    this.#idle.set(name, ref);
    if (this.#idle.size > kIdleLocksKept) {
      const [oldest, old] = this.#idle.entries().next().value as [string, { logical: string; engine: RwEngine }];
      this.#idle.delete(oldest);
      RwLock.detach(old.logical, old.engine);
    }
  }

  /** The backend's name of a lock of this namespace. */
  #remoteName(name: string): string {
    return `weblocks:${this.#namespace}:${name}`;
  }

  async #queryRemote(backend: LockBackend): Promise<LockManagerSnapshot> {
    const all = await backend.query();
    const mine = `weblocks:${this.#namespace}:`;
    const pick = (entries: typeof all.held): LockInfo[] =>
      entries
        .filter((e) => e.name.startsWith(mine))
        .map((e) => ({ name: e.name.slice(mine.length), mode: e.mode, clientId: e.clientId }));
    return { held: pick(all.held), pending: pick(all.pending) };
  }

  async #runRemote<T>(backend: LockBackend, p: Parsed<T>): Promise<T> {
    const outcome = await acquireRemote(backend, this.#remoteName(p.name), p.mode, {
      timeoutMs: -1,
      signal: p.signal,
      steal: p.steal,
      tryOnly: p.ifAvailable,
    });
    if (outcome === 'abort') throw p.signal!.reason;
    if (!(outcome instanceof RemoteHold)) return await Promise.resolve().then(() => p.callback(null)); // 'busy'
    let set = this.#remoteHolds.get(p.name);
    if (set === undefined) this.#remoteHolds.set(p.name, (set = new Set()));
    if (p.steal) for (const other of set) other.lose('stolen by a request of this context');
    set.add(outcome);
    try {
      return await heldRemote(outcome, new Lock(p.name, p.mode), p.callback);
    } finally {
      set.delete(outcome);
      if (set.size === 0 && this.#remoteHolds.get(p.name) === set) this.#remoteHolds.delete(p.name);
      await outcome.release().catch(() => false);
    }
  }

  async #run<T>(p: Parsed<T>): Promise<T> {
    if (this.#backend !== null) return this.#runRemote(this.#backend, p);
    const ref = this.#take(p.name);
    const engine = ref.engine;
    const token = freshToken();
    try {
      const flags = p.ifAvailable ? kTryOnly : p.steal ? kSteal : 0;
      const outcome = await engine.acquireAsync(token, p.mode, -1, p.signal, flags);
      if (outcome === 'abort') throw p.signal!.reason;
      if (outcome === 'closed') throw domError('the lock manager is shutting down', 'AbortError');
      if (!isGranted(outcome)) {
        // Invoked one microtask later, like a granted callback, so callbacks run in request order.
        if (outcome === Status.WouldBlock && p.ifAvailable) return await Promise.resolve().then(() => p.callback(null));
        if (outcome === Status.Busy) {
          throw domError(`too many holders and waiters for lock "${p.name}" (128 at most)`, 'NotSupportedError');
        }
        // A rewritten segment (SHMSYNC_CORRUPT) and the like: the library's coded error.
        throw statusError(outcome, p.name);
      }
      if (p.steal) noticeLocalSteals(engine, token);
      return await held(engine, token, new Lock(p.name, p.mode), p.callback);
    } finally {
      engine.release(token); // NotOwner when stolen (that frees the stolen entry) or never granted
      this.#give(p.name, ref);
    }
  }
}

/**
 * Runs the callback while `token` holds the lock; settles with the callback's outcome, or
 * rejects with an AbortError as soon as another request steals the lock (the callback keeps
 * running, as in the specification).
 */
function held<T>(engine: RwEngine, token: number, lock: Lock, callback: LockGrantedCallback<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    let watchId = 0;
    let immediate: NodeJS.Immediate | null = null;
    const me: Active = {
      engine,
      token,
      stolen: () => {
        if (done) return;
        end();
        lock[kMarkStolen]();
        reject(stolenError(lock.name));
      },
    };
    const unwatch = (): void => {
      if (watchId === 0) return;
      forgetParked(watchId);
      engine.native.cancel(watchId);
      watchId = 0;
    };
    const end = (): void => {
      done = true;
      active.delete(me);
      if (immediate !== null) clearImmediate(immediate);
      unwatch();
    };
    // Steals by other processes: watch our entry's state word, armed only if the callback is
    // still running after this turn of the event loop (short callbacks cost no parker request).
    const arm = (): void => {
      immediate = null;
      if (done) return;
      const slot = engine.holds.get(token)?.slot;
      if (slot === undefined) return;
      watchId = engine.native.watchEntry(slot);
      if (watchId === 0) {
        if (engine.native.poll(slot) === Status.NotOwner) me.stolen();
        return;
      }
      onParkedUnref(watchId, () => {
        watchId = 0;
        if (done) return;
        if (engine.native.poll(slot) === Status.NotOwner) me.stolen();
        else arm();
      });
    };
    active.add(me);
    immediate = setImmediate(arm);
    Promise.resolve()
      .then(() => callback(lock))
      .then(
        (value) => {
          if (done) return;
          end();
          resolve(value);
        },
        (err: unknown) => {
          if (done) return;
          end();
          reject(err);
        },
      );
  });
}

/**
 * held() for a remote hold: settles with the callback's outcome, or rejects with an AbortError
 * once the hold is lost (stolen by another request anywhere, or its lease ran out); the
 * callback keeps running, as for a steal in the specification.
 */
function heldRemote<T>(hold: RemoteHold, lock: Lock, callback: LockGrantedCallback<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    hold.onLost = () => {
      if (done) return;
      done = true;
      lock[kMarkStolen]();
      reject(stolenError(lock.name));
    };
    Promise.resolve()
      .then(() => callback(lock))
      .then(
        (value) => {
          if (done) return;
          done = true;
          resolve(value);
        },
        (err: unknown) => {
          if (done) return;
          done = true;
          reject(err);
        },
      );
  });
}

/** After a steal by this context: its own requests whose holds were taken learn it at once. */
function noticeLocalSteals(engine: RwEngine, thief: number): void {
  for (const a of [...active]) {
    if (a.engine !== engine || a.token === thief) continue;
    const slot = engine.holds.get(a.token)?.slot;
    if (slot !== undefined && engine.native.poll(slot) === Status.NotOwner) a.stolen();
  }
}

function clientIdOf(pid: number, threadId: number): string {
  return `${pid}:${threadId}`;
}

/** The default manager: namespace 'default' of this user. */
export const locks = new LockManager();
