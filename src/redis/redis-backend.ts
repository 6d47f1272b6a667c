/**
 * createRedisBackend: the LockBackend (src/lock/lock-backend.ts) on one Redis server, over a
 * client the application already has (ioredis or node-redis, adapted in client.ts). The
 * protocol is lock-scripts.ts; leases, renewal, waiting and reentrancy live in the lock layer.
 * Runs on the calling JS thread.
 *
 * Release notices: one extra connection (the client's `duplicate()`), opened on the first wait
 * and closed again after kSubscriberIdleMs without waits (so an idle process can exit), with one
 * SUBSCRIBE per lock name that has waiters in this context (refcounted).
 */
import * as os from 'node:os';
import { threadId } from 'node:worker_threads';
import type {
  LockBackend,
  RemoteAttempt,
  RemoteAttemptOptions,
  RemoteEntry,
  RemoteLockInfo,
  RemoteMode,
  RemoteWatch,
} from '../lock/lock-backend';
import { CorruptError } from '../errors';
import { optionsObject, rejectUnknownOptions, rangeError, typeError } from '../validate';
import { adaptClient, Script, type ClientAdapter, type Subscriber } from './client';
import { kAcquire, kInfo, kRelease, kRenew, kWithdraw } from './lock-scripts';
import { RedisQueue, type RedisQueueOptions } from './queue';

export interface RedisBackendOptions {
  /** An ioredis (v5) or node-redis (v4/v5) client, connected or connecting. Not closed by the backend. */
  client: unknown;
  /** Prefix of every key and channel (default 'shmsync:'). Backends with other prefixes never meet. */
  prefix?: string;
  /** Lease of a grant in ms (default 5000): a crashed holder's lock is taken over after it. */
  leaseMs?: number;
  /** Renewal period of a live holder in ms (default leaseMs / 3). */
  renewEveryMs?: number;
  /** Longest wait between two attempts without a release notice, ms (default min(leaseMs, 1000)). */
  pollMaxMs?: number;
}

const acquireScript = new Script(kAcquire);
const renewScript = new Script(kRenew);
const releaseScript = new Script(kRelease);
const withdrawScript = new Script(kWithdraw);
const infoScript = new Script(kInfo);

/** An idle subscriber connection is closed after this long without any wait. */
export const kSubscriberIdleMs = 2000;

const kModeCode: Record<RemoteMode, string> = { exclusive: 'x', shared: 's' };

function positiveMs(label: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw typeError(label, 'a number of milliseconds', value);
  if (!Number.isFinite(value) || value < 1 || value > 2 ** 31 - 1) {
    throw rangeError(label, 'a finite number of milliseconds from 1 to 2^31-1', value);
  }
  return Math.floor(value);
}

/** Lock names whose last fence this context remembers (the fence floor of kAcquire). */
export const kFencesRemembered = 4096;

/** Marks a key name that is the hex of a name's UTF-16 code units (see keyName). */
const kEscaped = '\u{10FFFF}';

/**
 * A lock name as it appears in keys and in the set of names. Redis keys are bytes and clients
 * send strings as UTF-8, which turns every lone surrogate into U+FFFD: '\uD800' and '\uDC00'
 * would share keys. Such names (and the rare names that begin with kEscaped) are written as
 * kEscaped + the hex of their UTF-16 code units instead; every other name is itself. Injective.
 */
export function keyName(name: string): string {
  const wellFormed =
    (name as unknown as { isWellFormed?: () => boolean }).isWellFormed?.() ?? !/\p{Surrogate}/u.test(name);
  if (wellFormed && !name.startsWith(kEscaped)) return name;
  return kEscaped + Buffer.from(name, 'utf16le').toString('hex');
}

/** keyName's inverse. */
export function nameOfKey(key: string): string {
  return key.startsWith(kEscaped) ? Buffer.from(key.slice(kEscaped.length), 'hex').toString('utf16le') : key;
}

/** A script's SHMSYNC_CORRUPT error reply as CorruptError; any other failure unchanged. */
function coded(err: unknown): unknown {
  if (err instanceof Error && /SHMSYNC_CORRUPT/.test(err.message)) {
    const detail = err.message.slice(err.message.indexOf('SHMSYNC_CORRUPT') + 'SHMSYNC_CORRUPT'.length).trim();
    return new CorruptError(`the lock's keys on Redis were changed by another client: ${detail}`, { cause: err });
  }
  return err;
}

/** `<clientId>#<serial>` -> clientId. */
function clientOf(owner: string): string {
  const i = owner.lastIndexOf('#');
  return i < 0 ? owner : owner.slice(0, i);
}

export class RedisBackend implements LockBackend {
  readonly kind = 'redis';
  readonly leaseMs: number;
  readonly renewEveryMs: number;
  readonly pollMaxMs: number;
  readonly clientId: string;
  readonly prefix: string;
  readonly #client: ClientAdapter;
  #subscriber: Subscriber | null = null;
  readonly #channels = new Map<string, { listeners: Set<() => void>; ready: Promise<void> }>();
  #idleTimer: NodeJS.Timeout | null = null;
  #closed = false;
  /** Lock name -> the highest fence this context was granted (most recent last; bounded). */
  readonly #fences = new Map<string, bigint>();
  /** String(leaseMs) and the waiter registration's lifetime, formatted once (every attempt sends them). */
  readonly #leaseArg: string;
  readonly #waiterTtlArg: string;

  constructor(options: RedisBackendOptions) {
    const opts = optionsObject('options', options);
    rejectUnknownOptions('options', opts, ['client', 'prefix', 'leaseMs', 'renewEveryMs', 'pollMaxMs'], {
      lease: 'leaseMs',
      ttl: 'leaseMs',
      redis: 'client',
    });
    this.#client = adaptClient(opts.client);
    const prefix = opts.prefix ?? 'shmsync:';
    if (typeof prefix !== 'string') throw typeError('options.prefix', 'a string', prefix);
    this.prefix = prefix;
    this.leaseMs = positiveMs('options.leaseMs', opts.leaseMs, 5000);
    this.renewEveryMs = positiveMs(
      'options.renewEveryMs',
      opts.renewEveryMs,
      Math.max(1, Math.floor(this.leaseMs / 3)),
    );
    if (this.renewEveryMs >= this.leaseMs) {
      throw rangeError('options.renewEveryMs', `less than leaseMs (${this.leaseMs})`, this.renewEveryMs);
    }
    this.pollMaxMs = positiveMs('options.pollMaxMs', opts.pollMaxMs, Math.min(this.leaseMs, 1000));
    this.clientId = `${process.pid}:${threadId}@${os.hostname()}`;
    this.#leaseArg = String(this.leaseMs);
    this.#waiterTtlArg = String(2 * this.pollMaxMs + this.leaseMs);
  }

  /** 'ioredis' or 'node-redis': which client was recognised. */
  get clientFlavour(): string {
    return this.#client.flavour;
  }

  #base(name: string): string {
    return `${this.prefix}lock:${keyName(name)}`;
  }

  #channel(name: string): string {
    return `${this.#base(name)}:rel`;
  }

  /** The glob that matches every key of every lock under this prefix (query()). */
  get #lockKeysPattern(): string {
    return `${this.prefix.replace(/[*?[\]\\]/g, '\\$&')}lock:*`;
  }

  async attempt(
    name: string,
    owner: string,
    mode: RemoteMode,
    options: RemoteAttemptOptions = {},
  ): Promise<RemoteAttempt> {
    const b = this.#base(name);
    const floor = this.#fences.get(name);
    const r = (await acquireScript
      .run(
        this.#client.send,
        [`${b}:x`, `${b}:s`, `${b}:f`, `${b}:h`, `${b}:d`, `${b}:w`, `${b}:wx`],
        [
          owner,
          kModeCode[mode],
          this.#leaseArg,
          options.steal === true ? '1' : '0',
          options.queue === true ? '1' : '0',
          this.#waiterTtlArg,
          `${b}:rel`,
          floor === undefined ? '0' : String(floor),
        ],
      )
      .catch((err: unknown) => {
        throw coded(err);
      })) as unknown[];
    if (Number(r[0]) === 1) {
      const fence = BigInt(String(r[1]));
      this.#remember(name, fence);
      return { granted: true, fence, ownerDied: Number(r[2]) === 1 };
    }
    return { granted: false, retryInMs: Math.max(1, Number(r[1]) + 1) };
  }

  #remember(name: string, fence: bigint): void {
    const known = this.#fences.get(name);
    this.#fences.delete(name);
    this.#fences.set(name, known !== undefined && known > fence ? known : fence);
    if (this.#fences.size > kFencesRemembered) this.#fences.delete(this.#fences.keys().next().value as string);
  }

  async renew(name: string, owner: string, mode: RemoteMode): Promise<boolean> {
    const b = this.#base(name);
    const r = await renewScript.run(
      this.#client.send,
      [`${b}:x`, `${b}:s`],
      [owner, kModeCode[mode], String(this.leaseMs)],
    );
    return Number(r) === 1;
  }

  async release(name: string, owner: string, mode: RemoteMode, fence = 0n): Promise<boolean> {
    const b = this.#base(name);
    const r = await releaseScript.run(
      this.#client.send,
      [`${b}:x`, `${b}:s`, `${b}:h`, `${b}:w`],
      [owner, kModeCode[mode], `${b}:rel`, String(fence)],
    );
    return Number(r) === 1;
  }

  async withdraw(name: string, owner: string, mode: RemoteMode): Promise<void> {
    const b = this.#base(name);
    await withdrawScript.run(this.#client.send, [`${b}:w`, `${b}:wx`], [`${kModeCode[mode]}|${owner}`, owner]);
  }

  async info(name: string): Promise<RemoteLockInfo> {
    const b = this.#base(name);
    const r = (await infoScript
      .run(this.#client.send, [`${b}:x`, `${b}:s`, `${b}:f`, `${b}:d`, `${b}:w`], [])
      .catch((err: unknown) => {
        throw coded(err);
      })) as [string, number, string[], string, string, string[], number];
    const now = Number(r[6]);
    const held: RemoteEntry[] = [];
    const x = String(r[0] ?? '');
    if (x !== '') held.push({ name, mode: 'exclusive', clientId: clientOf(x), remainingMs: Math.max(0, Number(r[1])) });
    const s = r[2] ?? [];
    for (let i = 0; i + 1 < s.length; i += 2) {
      held.push({ name, mode: 'shared', clientId: clientOf(String(s[i])), remainingMs: Number(s[i + 1]) - now });
    }
    const pending: RemoteEntry[] = [];
    const w = r[5] ?? [];
    for (let i = 0; i + 1 < w.length; i += 2) {
      const member = String(w[i]);
      pending.push({
        name,
        mode: member.startsWith('s|') ? 'shared' : 'exclusive',
        clientId: clientOf(member.slice(2)),
        remainingMs: Number(w[i + 1]) - now,
      });
    }
    return { held, pending, fence: BigInt(String(r[3] ?? '0')), ownerDeaths: Number(r[4] ?? 0) };
  }

  async query(): Promise<{ held: RemoteEntry[]; pending: RemoteEntry[] }> {
    // No index of names is kept (it would cost every cycle a write): the names are those with a
    // holder (B:x, B:s) or a waiter (B:w) key, each of which expires with its last lease.
    const start = `${this.prefix}lock:`.length;
    const found = new Set<string>();
    let cursor = '0';
    do {
      const r = (await this.#client.send(['SCAN', cursor, 'MATCH', this.#lockKeysPattern, 'COUNT', '1000'])) as [
        unknown,
        unknown[],
      ];
      cursor = String(r[0]);
      for (const k of r[1] ?? []) {
        const key = String(k);
        const sep = key.lastIndexOf(':');
        const suffix = key.slice(sep + 1);
        if (sep >= start && (suffix === 'x' || suffix === 's' || suffix === 'w')) found.add(key.slice(start, sep));
      }
    } while (cursor !== '0');
    const names = [...found].map(nameOfKey).sort();
    const infos = await Promise.all(names.map((n) => this.info(n)));
    return { held: infos.flatMap((i) => i.held), pending: infos.flatMap((i) => i.pending) };
  }

  watch(name: string, onNotice: () => void): RemoteWatch {
    if (this.#closed) return { ready: Promise.resolve(), close: () => undefined };
    const channel = this.#channel(name);
    if (this.#idleTimer !== null) {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = null;
    }
    const sub = (this.#subscriber ??= this.#client.subscriber((ch) => {
      for (const l of [...(this.#channels.get(ch)?.listeners ?? [])]) l();
    }));
    let entry = this.#channels.get(channel);
    if (entry === undefined) {
      const ready = sub.subscribe(channel);
      ready.catch(() => undefined);
      entry = { listeners: new Set(), ready };
      this.#channels.set(channel, entry);
    }
    const listener = (): void => onNotice();
    entry.listeners.add(listener);
    const e = entry;
    let closed = false;
    return {
      ready: e.ready,
      close: () => {
        if (closed) return;
        closed = true;
        e.listeners.delete(listener);
        if (e.listeners.size !== 0 || this.#channels.get(channel) !== e) return;
        this.#channels.delete(channel);
        void sub.unsubscribe(channel).catch(() => undefined);
        if (this.#channels.size === 0) this.#armIdle();
      },
    };
  }

  #armIdle(): void {
    if (this.#idleTimer !== null) return;
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = null;
      if (this.#channels.size === 0) this.#dropSubscriber();
    }, kSubscriberIdleMs);
    this.#idleTimer.unref();
  }

  #dropSubscriber(): void {
    const sub = this.#subscriber;
    this.#subscriber = null;
    sub?.close();
  }

  // ---- the Redis queue on this backend (docs/redis-queue.md) ----
  /** The application's client, as given (a RedisQueue with `{ backend }` uses it). */
  get client(): unknown {
    return this.#client.client;
  }

  /** A RedisQueue on this backend's client, keys under `${prefix}queue:`. Same as `new RedisQueue(name, { ...options, backend })`. */
  queue<T = unknown>(name: string, options?: Omit<RedisQueueOptions<T>, 'client' | 'backend'>): RedisQueue<T> {
    return new RedisQueue<T>(name, { ...options, backend: this });
  }

  /**
   * Closes the backend's own connection (release notices); the application's client stays
   * open. Waits still in progress then poll (at most pollMaxMs apart). Idempotent.
   */
  close(): void {
    this.#closed = true;
    if (this.#idleTimer !== null) clearTimeout(this.#idleTimer);
    this.#idleTimer = null;
    this.#channels.clear();
    this.#dropSubscriber();
  }
}

/**
 * A lock backend on Redis for `new Mutex(name, { backend })`, `new Lockable({ name, backend })`
 * and `new LockManager({ backend })`. See docs/redis.md for the failure model.
 *
 * ```ts
 * import Redis from 'ioredis';
 * const backend = createRedisBackend({ client: new Redis(url), leaseMs: 5000 });
 * const m = new Mutex('jobs', { backend });
 * await m.withLock(async () => { ... });
 * ```
 */
export function createRedisBackend(options: RedisBackendOptions): RedisBackend {
  return new RedisBackend(options);
}
