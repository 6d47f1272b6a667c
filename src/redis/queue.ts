/**
 * RedisQueue: the ShmQueue API on a Redis Stream with a consumer group, for many producers and
 * consumers on many hosts. Runs on the calling JS thread; every wait is a Promise.
 *
 * Delivery (docs/redis-queue.md "Delivery"): a message is read into this consumer's pending
 * entries list (PEL), then handed to the application only after the ACK script found it still
 * owned by this consumer and acknowledged and deleted it (get/getMany/for await/drain), or - with
 * receive() - after the application calls `message.ack()`. Entries left pending by a consumer that
 * died (or stopped renewing) are reclaimed by other consumers after `reclaimAfter` ms (XAUTOCLAIM).
 *
 * Connections: non-blocking commands go through the client the caller passed; blocking reads
 * (XREADGROUP BLOCK) through one duplicate connection per handle, opened on first need, at most one
 * blocked read at a time (other waiting gets of the handle queue in JS). Waits are cut into slices
 * of at most `min(reclaimAfter / 2, 2000)` ms so a waiting consumer also reclaims and sees end().
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import {
  ClosedError,
  CodecError,
  ReadOnly,
  ReclaimedError,
  SizeMismatchError,
  TimeoutError,
  TooLargeError,
} from '../errors';
import {
  abortErrorFor,
  optionsObject,
  rangeError,
  rejectUnknownOptions,
  typeError,
  validateFunction,
  validateInteger,
  validateName,
  validateWaitOptions,
} from '../validate';
import { validateCodec, type Codec, type CodecName } from '../wire/codec';
import { iterateUntilEnded, withWritten } from '../queue/queue-contract';
import { decodeMessage, encodeMessage } from './queue-codec';
import { text } from './queue-client';
import { adaptQueueClient, type BlockingConnection, type QueueAdapter } from './client';
import { ACK, ARM, CONFIG, END, PUT, RELEASE, RENEW, TAKE } from './queue-scripts';

export interface RedisQueueOptions<T = unknown> {
  /**
   * An ioredis (v5) or node-redis (v4/v5) client, connected or connecting (shared: the queue
   * never closes it). Each handle opens one duplicate of it for blocking reads.
   */
  client?: unknown;
  /**
   * A backend from createRedisBackend() (or any `{ client, prefix }`): its client and prefix are
   * used. `client` wins when both are given. Same as `backend.queue(name, options)`.
   */
  backend?: { readonly client?: unknown; readonly prefix?: string };
  /** As ShmQueue: 'structured' (default), 'json', 'string', 'raw' or { encode, decode }. */
  codec?: CodecName | Codec<T>;
  /**
   * Most unacknowledged messages the queue holds (put waits while full). Stored with the queue by
   * the first handle that sets it; 0 / undefined: unbounded (or what the queue already has).
   */
  maxLength?: number;
  /** Largest encoded payload in bytes (default 16 MiB; Redis' own limit is 512 MB). */
  maxMessageSize?: number;
  /** Milliseconds a pending message may stay unrenewed before another consumer reclaims it (default 5000). */
  reclaimAfter?: number;
  /** Consumer group name (default 'shmsync'): every handle of a group shares the messages. */
  group?: string;
  /** This handle's consumer name (default unique: host:pid:random). */
  consumer?: string;
  /** Key prefix (default 'shmsync:queue:', or the backend's prefix + 'queue:'); keys are `${prefix}{${name}}` and suffixes (one hash slot). */
  prefix?: string;
}

export interface RedisPutOptions {
  timeout?: number;
  signal?: AbortSignal;
}
export type RedisGetOptions = RedisPutOptions;
export interface RedisDrainOptions extends RedisGetOptions {
  max?: number;
}

export interface RedisQueueInfo {
  name: string;
  /** Messages put and not yet acknowledged (waiting + in the hands of consumers). */
  size: number;
  /** Of those, read by a consumer and not yet acknowledged. */
  pending: number;
  /** Consumers the group knows (including dead ones whose entries wait to be reclaimed). */
  consumers: number;
  ended: boolean;
  maxLength: number;
}

/** A message received with receive(): acknowledge it when done, or release it back. */
export interface RedisMessage<T = unknown> {
  readonly value: T;
  /** The stream entry id. */
  readonly id: string;
  /** True when it was reclaimed from another consumer (it may have been partly processed there). */
  readonly redelivered: boolean;
  /** Removes it from the queue; rejects with ReclaimedError when another consumer reclaimed it. */
  ack(): Promise<void>;
  /** Hands it back at once: the next get of any consumer receives it. */
  release(): Promise<void>;
}

interface Entry {
  id: string;
  payload: Buffer;
  reclaimed: boolean;
  /** Not a shmsync message (foreign fields, no payload) or beyond maxMessageSize: consumed with this error. */
  fault?: Error;
}

/** TAKE's fault flags (queue-scripts.ts): 1 foreign entry, 2 beyond maxMessageSize (payload left in Redis). */
function faultOf(flag: number, size: number, max: number, id: string): Error | undefined {
  if (flag === 1) return new CodecError(`stream entry ${id} is not a shmsync message (fields other than one "m")`);
  if (flag === 2 || size > max)
    return new TooLargeError(`stream entry ${id}: payload of ${size} bytes exceeds maxMessageSize ${max}`);
  return undefined;
}

type Mode = 'ack' | 'hold' | 'raw';
type Outcome = 'done' | 'timeout' | 'abort' | 'closed';

const kDefaultReclaim = 5000;
const kMaxSlice = 2000;
/** How long a blocking connection stays registered for end()'s CLIENT UNBLOCK (ms). */
const kArmTtl = 10_000;
/** XCLAIM IDLE given to released entries: older than any reclaimAfter. */
const kReleasedIdle = '1000000000000';
/** Longest single timer (setTimeout fires at once beyond 2^31-1 ms): longer waits re-arm. */
const kMaxTimer = 2 ** 31 - 1;
/** Pause after a connection error of the blocking read before the next one (ms). */
const kErrorPause = 50;

function deadlineOf(timeout: number): number {
  return timeout < 0 ? -1 : Date.now() + timeout;
}

/** An error reply of Redis (ioredis ReplyError, node-redis ErrorReply), not a connection failure. */
function isReplyError(err: unknown): boolean {
  const name = (err as { name?: unknown } | null)?.name;
  return name === 'ReplyError' || name === 'ErrorReply';
}

/** Resolves when `p` settles, the deadline passes, `signal` or `closing` aborts. */
function race(
  p: Promise<unknown>,
  deadline: number,
  signal: AbortSignal | undefined,
  closing: AbortSignal,
): Promise<Outcome> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const done = (o: Outcome): void => {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      closing.removeEventListener('abort', onClose);
      resolve(o);
    };
    const onAbort = (): void => done('abort');
    const onClose = (): void => done('closed');
    if (closing.aborted) return done('closed');
    if (signal?.aborted) return done('abort');
    signal?.addEventListener('abort', onAbort, { once: true });
    closing.addEventListener('abort', onClose, { once: true });
    // Timers are capped at 2^31-1 ms (beyond that Node fires them at once): a later deadline re-arms.
    const arm = (): void => {
      const left = deadline - Date.now();
      if (left <= 0) return done('timeout');
      timer = setTimeout(arm, Math.min(left, kMaxTimer));
    };
    if (deadline >= 0) timer = setTimeout(arm, Math.min(Math.max(0, deadline - Date.now()), kMaxTimer));
    p.then(
      () => done('done'),
      () => done('done'),
    );
  });
}

export class RedisQueue<T = unknown> {
  readonly name: string;
  readonly codec: CodecName | Codec<T>;
  readonly group: string;
  readonly consumer: string;
  readonly reclaimAfter: number;
  readonly maxMessageSize: number;
  readonly #client: QueueAdapter;
  readonly #custom: Codec | null;
  readonly #stream: string;
  readonly #meta: string;
  readonly #acks: string;
  readonly #waiters: string;
  readonly #slice: number;
  #ready: Promise<void>;
  #maxLength = 0;
  #closed = false;
  readonly #closing = new AbortController();
  /** Entries read into our PEL and not yet handed over (served first; crash-safe: still pending). */
  #mine: Entry[] = [];
  /** receive()d messages the application holds (renewed until acked/released/closed). */
  readonly #held = new Map<string, HeldMessage<T>>();
  #renewTimer: NodeJS.Timeout | undefined;
  #blocker: BlockingConnection | null = null;
  #blockerReady: Promise<BlockingConnection> | null = null;
  /** Last XLEN seen (TAKE replies, length(), info()): the `size` getter. */
  #size = 0;
  #blockId = '';
  /** Settles when the current blocked read settles (one at a time per handle). */
  #turn: Promise<void> | null = null;
  #cursor = '0-0';
  #lastReclaim = 0;
  #tokens = 0;
  readonly #epoch = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  #ended = false;
  #armedId = '';
  #armedAt = 0;

  constructor(name: string, options: RedisQueueOptions<T>) {
    validateName('name', name);
    const opts = optionsObject('options', options);
    rejectUnknownOptions('options', opts, [
      'client',
      'backend',
      'codec',
      'maxLength',
      'maxMessageSize',
      'reclaimAfter',
      'group',
      'consumer',
      'prefix',
    ]);
    const backend = opts.backend as { client?: unknown; prefix?: unknown } | undefined;
    const raw = opts.client ?? (typeof backend === 'object' && backend !== null ? backend.client : undefined);
    let client: QueueAdapter;
    try {
      client = adaptQueueClient(raw);
    } catch {
      throw typeError(
        opts.client === undefined && backend !== undefined ? 'options.backend.client' : 'options.client',
        'an ioredis or node-redis client',
        raw,
      );
    }
    const codec = (opts.codec ?? 'structured') as CodecName | Codec<T>;
    validateCodec('options.codec', codec);
    const maxLength = (opts.maxLength ?? 0) as number;
    validateInteger('options.maxLength', maxLength, 0, 2 ** 31 - 1);
    const maxMessageSize = (opts.maxMessageSize ?? 16 * 1024 * 1024) as number;
    validateInteger('options.maxMessageSize', maxMessageSize, 1, 512 * 1024 * 1024 - 1);
    const reclaimAfter = (opts.reclaimAfter ?? kDefaultReclaim) as number;
    validateInteger('options.reclaimAfter', reclaimAfter, 10, 2 ** 31 - 1);
    const group = (opts.group ?? 'shmsync') as string;
    if (typeof group !== 'string' || group.length === 0) throw typeError('options.group', 'a non-empty string', group);
    const consumer = (opts.consumer ?? `${hostname()}:${process.pid}:${randomBytes(6).toString('hex')}`) as string;
    if (typeof consumer !== 'string' || consumer.length === 0)
      throw typeError('options.consumer', 'a non-empty string', consumer);
    const prefix = (opts.prefix ??
      (typeof backend?.prefix === 'string' ? `${backend.prefix}queue:` : 'shmsync:queue:')) as string;
    if (typeof prefix !== 'string') throw typeError('options.prefix', 'a string', prefix);
    // Braces would choose the cluster hash slot: only the queue's own `{name}` may (one slot per queue).
    if (name.includes('{') || name.includes('}')) throw rangeError('name', 'a name without { or }', name);
    if (prefix.includes('{') || prefix.includes('}'))
      throw rangeError('options.prefix', 'a prefix without { or }', prefix);

    this.name = name;
    this.codec = codec;
    this.#custom = typeof codec === 'string' ? null : (codec as Codec);
    this.group = group;
    this.consumer = consumer;
    this.reclaimAfter = reclaimAfter;
    this.maxMessageSize = maxMessageSize;
    this.#client = client;
    setMaxListeners(0, this.#closing.signal); // one listener per concurrent wait of this handle
    const base = `${prefix}{${name}}`;
    this.#stream = base;
    this.#meta = `${base}:meta`;
    this.#acks = `${base}:memo`;
    this.#waiters = `${base}:waiters`;
    this.#slice = Math.max(1, Math.min(kMaxSlice, Math.floor(reclaimAfter / 2)));
    this.#ready = CONFIG.run(client, [this.#meta], [String(maxLength)]).then((stored) => {
      this.#maxLength = Number(text(stored));
      if (maxLength !== 0 && this.#maxLength !== maxLength)
        throw new SizeMismatchError(`queue "${name}" exists with maxLength ${this.#maxLength}`);
    });
    // Checked by every call; an unobserved failure must not crash the process.
    this.#ready.catch(() => {});
  }

  /** Resolves once the queue's configuration was read (every call waits for it anyway). */
  async ready(): Promise<this> {
    await this.#ready;
    return this;
  }

  /** Most unacknowledged messages (0: unbounded), as stored with the queue. */
  get maxLength(): number {
    return this.#maxLength;
  }
  /** True once close() released this handle. */
  get closed(): boolean {
    return this.#closed;
  }
  /** True once this handle saw the stream ended (end() here, or a put/get that found it ended). */
  get ended(): boolean {
    return this.#ended;
  }

  async info(): Promise<RedisQueueInfo> {
    await this.#open();
    const c = this.#client;
    const [size, ended, groups] = await Promise.all([
      c.sendBuffer(['XLEN', this.#stream]),
      c.sendBuffer(['HEXISTS', this.#meta, 'ended']),
      c.sendBuffer(['XINFO', 'GROUPS', this.#stream]).catch(() => []),
    ]);
    this.#size = Number(size);
    let pending = 0;
    let consumers = 0;
    for (const g of groups as unknown[][]) {
      const rec: Record<string, unknown> = {};
      for (let i = 0; i + 1 < g.length; i += 2) rec[text(g[i])] = Buffer.isBuffer(g[i + 1]) ? text(g[i + 1]) : g[i + 1];
      if (rec.name === this.group) {
        pending = Number(rec.pending);
        consumers = Number(rec.consumers);
      }
    }
    return {
      name: this.name,
      size: Number(size),
      pending,
      consumers,
      ended: Number(ended) === 1,
      maxLength: this.#maxLength,
    };
  }

  /** Messages put and not yet acknowledged. */
  async length(): Promise<number> {
    await this.#open();
    this.#size = Number(await this.#client.sendBuffer(['XLEN', this.#stream]));
    return this.#size;
  }

  /**
   * Messages put and not yet acknowledged, as last seen by this handle (its last get, put,
   * length() or info()): a synchronous estimate for the channel layer; length() asks Redis.
   */
  get size(): number {
    return this.#size;
  }

  // ---- producing ----

  async put(value: T, options?: RedisPutOptions): Promise<void> {
    await this.putMany([value], options);
  }

  /**
   * Appends messages in order (one script call per batch that fits). Waits while `maxLength` is
   * reached; on timeout/abort/close the error's `written` says how many were appended.
   */
  async putMany(values: Iterable<T>, options?: RedisPutOptions): Promise<void> {
    const { timeout, signal } = validateWaitOptions(options);
    const batch = Array.isArray(values) ? (values as T[]) : Array.from(values);
    const payloads = batch.map((v) => encodeMessage(this.codec as CodecName | Codec, v, this.maxMessageSize));
    await this.#open();
    if (signal?.aborted) throw withWritten(abortErrorFor(signal), 0);
    const deadline = deadlineOf(timeout);
    let written = 0;
    let backoff = 1;
    while (written < payloads.length) {
      const n = Number(
        await PUT.run(
          this.#client,
          [this.#stream, this.#meta, this.#acks],
          [this.consumer, this.#token(), ...payloads.slice(written)],
        ),
      );
      if (n < 0) {
        this.#ended = true;
        throw withWritten(new ReadOnly(`queue "${this.name}" has ended`), written);
      }
      written += n;
      this.#size += n;
      if (written === payloads.length) return;
      if (n > 0) backoff = 1;
      // Full (maxLength): poll with a bounded backoff (consumers acknowledging free the room).
      const wait = deadline < 0 ? backoff : Math.min(backoff, deadline - Date.now());
      if (wait <= 0 && deadline >= 0)
        throw withWritten(new TimeoutError(`queue "${this.name}": put timed out`), written);
      const outcome = await race(new Promise((r) => setTimeout(r, wait)), -1, signal, this.#closing.signal);
      if (outcome === 'abort') throw withWritten(abortErrorFor(signal!), written);
      if (outcome === 'closed') throw withWritten(this.#closedError(), written);
      backoff = Math.min(backoff * 2, 50);
    }
  }

  /** Appends one message unless the queue is full: resolves false then (ReadOnly once ended). */
  async tryPut(value: T): Promise<boolean> {
    const payload = encodeMessage(this.codec as CodecName | Codec, value, this.maxMessageSize);
    await this.#open();
    const n = Number(
      await PUT.run(this.#client, [this.#stream, this.#meta, this.#acks], [this.consumer, this.#token(), payload]),
    );
    if (n < 0) {
      this.#ended = true;
      throw new ReadOnly(`queue "${this.name}" has ended`);
    }
    if (n === 1) this.#size++;
    return n === 1;
  }

  // ---- consuming ----

  /** Waits for a message; it is acknowledged (removed from Redis) before it is returned. */
  async get(options?: RedisGetOptions): Promise<T> {
    const out = (await this.#receive(1, 'ack', options)) as T[];
    return out[0];
  }

  /** Waits for at least one message, then returns every ready one up to `max` (acknowledged). */
  async getMany(max: number, options?: RedisGetOptions): Promise<T[]> {
    validateInteger('max', max, 1, 100_000);
    return (await this.#receive(max, 'ack', options)) as T[];
  }

  /** One message if one is ready now (no blocking read), else undefined. */
  async tryGet(): Promise<T | undefined> {
    const out = (await this.#receive(1, 'ack', { timeout: 0 }, true)) as T[];
    return out[0];
  }

  /**
   * Waits for a message and returns it unacknowledged: while this handle is open its claim is
   * renewed; `ack()` removes it, `release()` hands it back; if this process dies first, another
   * consumer receives it `reclaimAfter` ms later (at-least-once across crashes).
   */
  async receive(options?: RedisGetOptions): Promise<RedisMessage<T>> {
    const out = (await this.#receive(1, 'hold', options)) as RedisMessage<T>[];
    return out[0];
  }

  async receiveMany(max: number, options?: RedisGetOptions): Promise<RedisMessage<T>[]> {
    validateInteger('max', max, 1, 100_000);
    return (await this.#receive(max, 'hold', options)) as RedisMessage<T>[];
  }

  /**
   * As ShmQueue.drain: waits for at least one message, acknowledges up to `max` and calls
   * `visit(view, i)` with each raw payload (whatever codec wrote it). Returns how many.
   */
  async drain(visit: (view: Uint8Array, index: number) => void, options?: RedisDrainOptions): Promise<number> {
    validateFunction('visit', visit);
    const { timeout, signal } = validateWaitOptions(options, ['max']);
    const max = (options?.max ?? 1024) as number;
    validateInteger('options.max', max, 1, 100_000);
    const payloads = (await this.#receive(max, 'raw', {
      timeout: timeout < 0 ? undefined : timeout,
      signal,
    })) as Buffer[];
    for (let i = 0; i < payloads.length; i++) visit(payloads[i].subarray(1), i);
    return payloads.length;
  }

  /** Iterates messages until the stream has ended and every message was acknowledged. */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    return iterateUntilEnded(() => this.get());
  }

  async #receive(max: number, mode: Mode, options: RedisGetOptions | undefined, once = false): Promise<unknown[]> {
    const { timeout, signal } = validateWaitOptions(options);
    await this.#open();
    const deadline = deadlineOf(timeout);
    for (;;) {
      if (this.#closed) throw this.#closedError();
      if (signal?.aborted) throw abortErrorFor(signal);
      let entries = this.#mine.splice(0, max);
      if (entries.length === 0) {
        const r = await this.#take(max);
        entries = r.entries;
        if (entries.length === 0) {
          if (r.ended) this.#ended = true;
          if (r.ended && r.size === 0) throw new ReadOnly(`queue "${this.name}" has ended and is drained`);
          if (once) return [];
          if (deadline >= 0 && Date.now() >= deadline) throw new TimeoutError(`queue "${this.name}": get timed out`);
          if (this.#closed) throw this.#closedError(); // closed during TAKE: no blocking connection now
          if (signal?.aborted) throw abortErrorFor(signal);
          entries = await this.#blockingRead(max, deadline, signal);
          if (entries.length === 0) continue;
        }
      }
      const out = await this.#settle(entries, mode);
      if (out.length > 0) return out;
    }
  }

  /** TAKE: reclaim (when due) and read new entries into our PEL, without blocking. */
  async #take(max: number): Promise<{ entries: Entry[]; ended: boolean; size: number }> {
    // Reclaiming first is due every slice; otherwise TAKE reclaims only when nothing new is ready.
    const now = Date.now();
    const due = now - this.#lastReclaim >= this.#slice;
    if (due) this.#lastReclaim = now;
    const reply = (await TAKE.run(
      this.#client,
      [this.#stream, this.#meta],
      [this.group, this.consumer, max, this.reclaimAfter, this.#cursor, due ? '1' : '0', this.maxMessageSize + 1],
    )) as [unknown[][], unknown, unknown, unknown];
    this.#cursor = text(reply[1]);
    const entries = reply[0].map((e): Entry => {
      const id = text(e[0]);
      const payload = Buffer.isBuffer(e[1]) ? e[1] : Buffer.alloc(0);
      const fault = faultOf(Number(e[3]), Number(e[4] ?? payload.length) - 1, this.maxMessageSize, id);
      return { id, payload, reclaimed: Number(e[2]) === 1, fault };
    });
    this.#size = Number(reply[3]);
    return { entries, ended: Number(reply[2]) === 1, size: this.#size };
  }

  /**
   * One bounded XREADGROUP BLOCK on this handle's blocking connection (or a wait for the handle's
   * current one). Returns the entries read (into our PEL), [] when the slice ended empty.
   */
  async #blockingRead(max: number, deadline: number, signal: AbortSignal | undefined): Promise<Entry[]> {
    if (this.#turn !== null) {
      const o = await race(this.#turn, deadline, signal, this.#closing.signal);
      if (o === 'closed') throw this.#closedError();
      if (o === 'abort') throw abortErrorFor(signal!);
      // The read we waited for may have left entries for us (its caller gave up): back to the
      // caller's loop, which serves them (or TAKEs) before it blocks again.
      return [];
    }
    const remaining = deadline < 0 ? this.#slice : deadline - Date.now();
    if (remaining <= 0) return [];
    const slice = Math.max(1, Math.min(remaining, this.#slice));
    let release!: () => void;
    this.#turn = new Promise<void>((r) => (release = r));
    let read: Promise<Entry[]>;
    try {
      const conn = await this.#blockingConnection();
      // Registered for end()'s wake-up for kArmTtl ms; renewed when half of that passed.
      const now = Date.now();
      if (this.#armedId !== this.#blockId || now - this.#armedAt > kArmTtl / 2) {
        await ARM.run(this.#client, [this.#waiters], [this.#blockId, now + kArmTtl, now]);
        this.#armedId = this.#blockId;
        this.#armedAt = now;
      }
      if (this.#closed) throw this.#closedError();
      read = conn
        .sendBuffer([
          'XREADGROUP',
          'GROUP',
          this.group,
          this.consumer,
          'COUNT',
          String(max),
          'BLOCK',
          String(slice),
          'STREAMS',
          this.#stream,
          '>',
        ])
        .then((reply) => parseRead(reply, this.maxMessageSize));
    } catch (err) {
      this.#turn = null;
      release();
      if (this.#closed) throw this.#closedError();
      throw err;
    }
    // The turn ends when the read settles, whatever this caller does meanwhile.
    const settled = read.then(
      (entries) => entries,
      async (err: Error) => {
        // NOGROUP (Redis lost its data): the next TAKE recreates the group.
        if (/NOGROUP/.test(String(err.message))) return [] as Entry[];
        if (isReplyError(err) || this.#closed) throw err;
        // The connection failed (killed, Redis restarting; node-redis rejects what was in flight,
        // ioredis resends it): an empty slice after a short pause, then TAKE and read again.
        // Entries a lost reply had moved into our PEL are reclaimed after reclaimAfter.
        await new Promise((r) => setTimeout(r, kErrorPause).unref());
        return [] as Entry[];
      },
    );
    settled
      .catch(() => {})
      .finally(() => {
        this.#turn = null;
        release();
      });
    // The deadline too: Redis ends a BLOCK only at its next timer tick (up to 1000/hz = 100 ms).
    const o = await race(settled, deadline, signal, this.#closing.signal);
    if (o === 'done') {
      try {
        return await settled;
      } catch (err) {
        if (this.#closed) throw this.#closedError();
        throw err;
      }
    }
    // Abandoned (abort/timeout/close): wake the read; whatever it returns stays ours, served next.
    if (o !== 'closed') this.#client.sendBuffer(['CLIENT', 'UNBLOCK', this.#blockId]).catch(() => {});
    settled.then(
      (entries) => {
        if (this.#closed)
          void this.#releaseIds(
            entries.map((e) => e.id),
            false,
          );
        else this.#mine.push(...entries);
      },
      () => {},
    );
    if (o === 'closed') throw this.#closedError();
    if (o === 'timeout') return []; // the caller's loop TAKEs once more, then reports the timeout
    throw abortErrorFor(signal!);
  }

  #blockingConnection(): Promise<BlockingConnection> {
    if (this.#blockerReady !== null) return this.#blockerReady;
    if (this.#closed) return Promise.reject(this.#closedError());
    const conn = this.#client.blocking();
    this.#blocker = conn;
    const fetchId = (): Promise<void> =>
      conn.sendBuffer(['CLIENT', 'ID']).then((id) => {
        this.#blockId = text(id);
      });
    conn.onReady(() => void fetchId().catch(() => {}));
    this.#blockerReady = fetchId().then(() => conn);
    return this.#blockerReady;
  }

  /**
   * Hands entries of our PEL to the application: decodes, then (ack/raw modes) runs ACK, which
   * acknowledges only what is still ours; what another consumer reclaimed meanwhile is dropped
   * here (that consumer delivers it). A payload that does not decode is consumed and throws, after
   * the messages before it were returned.
   */
  async #settle(entries: Entry[], mode: Mode): Promise<unknown[]> {
    const values: unknown[] = [];
    let bad: { index: number; err: unknown } | null = null;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      try {
        if (e.fault !== undefined) throw e.fault;
        if (mode !== 'raw') values.push(decodeMessage(e.payload, this.#custom));
        else if (e.payload.length < 1) throw new CodecError(`stream entry ${e.id} has no payload`);
        else values.push(e.payload);
      } catch (err) {
        bad = { index: i, err };
        break;
      }
    }
    if (bad !== null) {
      // Deliver what decoded first; the failing entry comes back first on the next call.
      if (bad.index > 0) {
        this.#mine.unshift(...entries.slice(bad.index));
        entries = entries.slice(0, bad.index);
      } else {
        this.#mine.unshift(...entries.slice(1));
        const res = await this.#ack([entries[0].id]);
        if (res[0]) throw bad.err;
        return [];
      }
    }
    if (mode === 'hold') {
      // A settle that completes after close() hands nothing out: the entries go back at once.
      if (this.#closed) {
        await this.#releaseIds(
          entries.map((e) => e.id),
          false,
        );
        throw this.#closedError();
      }
      const out: RedisMessage<T>[] = [];
      for (let i = 0; i < entries.length; i++) {
        const m = new HeldMessage<T>(this, values[i] as T, entries[i].id, entries[i].reclaimed);
        this.#held.set(m.id, m);
        out.push(m);
      }
      this.#scheduleRenew();
      return out;
    }
    const res = await this.#ack(entries.map((e) => e.id));
    const out: unknown[] = [];
    for (let i = 0; i < entries.length; i++) if (res[i]) out.push(values[i]);
    return out;
  }

  /** ACK with a fresh token (a resend by the client after a reconnect answers the same). */
  async #ack(ids: string[]): Promise<boolean[]> {
    const r = text(
      await ACK.run(this.#client, [this.#stream, this.#acks], [this.group, this.consumer, this.#token(), ...ids]),
    );
    const out: boolean[] = [];
    for (let i = 0; i < ids.length; i++) out.push(r[i] === '1');
    return out;
  }

  /** A token unique to this handle's calls (memo of PUT/ACK; see queue-scripts.ts). */
  #token(): string {
    return `${this.#epoch}.${(this.#tokens++).toString(36)}`;
  }

  /** @internal HeldMessage.ack (memoised there: concurrent acks share one call) */
  async ackHeld(m: HeldMessage<T>): Promise<void> {
    if (m.acked) return;
    if (this.#closed) throw this.#closedError();
    if (!this.#held.has(m.id)) throw new ReclaimedError(`queue "${this.name}": message ${m.id} is no longer held`);
    const [ok] = await this.#ack([m.id]);
    this.#held.delete(m.id);
    if (ok) m.acked = true;
    else throw new ReclaimedError(`queue "${this.name}": message ${m.id} was reclaimed by another consumer`);
  }

  /** @internal HeldMessage.release */
  async releaseHeld(m: HeldMessage<T>): Promise<void> {
    if (!this.#held.delete(m.id) || this.#closed) return;
    await this.#releaseIds([m.id], false);
  }

  async #releaseIds(ids: string[], forget: boolean): Promise<void> {
    if (ids.length === 0 && !forget) return;
    await RELEASE.run(
      this.#client,
      [this.#stream, this.#acks],
      [this.group, this.consumer, kReleasedIdle, forget ? '1' : '0', ...ids],
    );
  }

  /** Renews the claim on held messages every reclaimAfter / 3 ms while any is held (timer unref'd). */
  #scheduleRenew(): void {
    if (this.#renewTimer !== undefined || this.#held.size === 0 || this.#closed) return;
    this.#renewTimer = setTimeout(
      () => {
        this.#renewTimer = undefined;
        const ids = [...this.#held.keys()];
        if (ids.length === 0 || this.#closed) return;
        RENEW.run(this.#client, [this.#stream], [this.group, this.consumer, ...ids])
          .then((r) => {
            const s = text(r);
            for (let i = 0; i < ids.length; i++) if (s[i] !== '1') this.#held.delete(ids[i]);
          })
          .catch(() => {})
          .finally(() => this.#scheduleRenew());
      },
      Math.max(5, Math.floor(this.reclaimAfter / 3)),
    );
    this.#renewTimer.unref();
  }

  // ---- ending and closing ----

  /**
   * Ends the stream for every handle everywhere: puts fail with ReadOnly; gets drain what is
   * left, then fail with ReadOnly; blocked reads of every handle are woken. Permanent until unlink.
   */
  async end(): Promise<void> {
    await this.#open();
    this.#ended = true;
    const ids = (await END.run(this.#client, [this.#meta, this.#waiters], [Date.now()])) as unknown[];
    await Promise.all(ids.map((id) => this.#client.sendBuffer(['CLIENT', 'UNBLOCK', text(id)]).catch(() => {})));
  }

  /**
   * Releases this handle: pending waits reject with ClosedError, messages it read but did not hand
   * over (and receive()d ones not acknowledged) go back to the queue at once, its blocking
   * connection is closed. The caller's client stays open; the queue stays for other handles.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort();
    if (this.#renewTimer !== undefined) clearTimeout(this.#renewTimer);
    this.#blocker?.close();
    this.#blocker = null;
    if (this.#armedId !== '') this.#client.sendBuffer(['ZREM', this.#waiters, this.#armedId]).catch(() => {});
    const ids = [...this.#mine.map((e) => e.id), ...this.#held.keys()];
    this.#mine = [];
    this.#held.clear();
    try {
      await this.#ready;
      await this.#releaseIds(ids, true);
    } catch {
      // Unreachable Redis: the entries are reclaimed after reclaimAfter instead.
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Deletes the queue's keys (stream, group, configuration, end mark). */
  async unlink(): Promise<boolean> {
    const n = Number(await this.#client.sendBuffer(['DEL', this.#stream, this.#meta, this.#acks, this.#waiters]));
    return n > 0;
  }

  #closedError(): Error {
    return new ClosedError(`queue "${this.name}": this handle was closed`);
  }

  async #open(): Promise<void> {
    if (this.#closed) throw new ClosedError(`queue "${this.name}": this handle is closed`);
    await this.#ready;
  }
}

class HeldMessage<T> implements RedisMessage<T> {
  readonly #queue: RedisQueue<T>;
  /** Set once ack() succeeded (a second ack() resolves at once). */
  acked = false;
  constructor(
    queue: RedisQueue<T>,
    readonly value: T,
    readonly id: string,
    readonly redelivered: boolean,
  ) {
    this.#queue = queue;
  }
  #acking: Promise<void> | null = null;
  ack(): Promise<void> {
    // A second ack() while the first is under way waits for it (never a false SHMSYNC_RECLAIMED).
    if (this.#acking !== null) return this.#acking;
    const p = this.#queue.ackHeld(this);
    this.#acking = p;
    p.catch(() => {
      if (this.#acking === p) this.#acking = null;
    });
    return p;
  }
  release(): Promise<void> {
    return this.#queue.releaseHeld(this);
  }
}

/**
 * XREADGROUP's reply (RESP2 arrays; RESP3 maps come as objects / Maps). Entries are untrusted: a
 * foreign shape or an oversized payload becomes a fault entry (consumed with a coded error), never
 * skipped - a skipped entry would stay pending and be reclaimed forever.
 */
function parseRead(reply: unknown, max: number): Entry[] {
  let streams: unknown = reply;
  if (streams instanceof Map) streams = [...streams.entries()];
  else if (streams !== null && typeof streams === 'object' && !Array.isArray(streams))
    streams = Object.entries(streams);
  if (!Array.isArray(streams) || streams.length === 0) return [];
  const first = streams[0] as unknown[];
  const list = Array.isArray(first) ? first[1] : undefined;
  if (!Array.isArray(list)) return [];
  const out: Entry[] = [];
  for (const e of list as unknown[][]) {
    if (!Array.isArray(e)) continue;
    const id = text(e[0]);
    const fields = e[1] as unknown[] | null;
    const ok = Array.isArray(fields) && fields.length === 2 && text(fields[0]) === 'm' && Buffer.isBuffer(fields[1]);
    const payload = ok ? (fields[1] as Buffer) : Buffer.alloc(0);
    out.push({
      id,
      payload,
      reclaimed: false,
      fault: ok ? faultOf(0, payload.length - 1, max, id) : faultOf(1, 0, max, id),
    });
  }
  return out;
}
