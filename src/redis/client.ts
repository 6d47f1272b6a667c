/**
 * The one place that knows Redis client libraries, duck-typed so that neither is a runtime
 * dependency (both are devDependencies, for the tests): an `ioredis` client (v5: `call`,
 * `duplicate`, 'message' events) or a `node-redis` v4/v5 client (`sendCommand`, `duplicate`,
 * `connect`, `subscribe(channel, listener)`). Runs on the calling JS thread.
 *
 * Scripts run with EVALSHA and fall back to EVAL on NOSCRIPT (a restarted server has an empty
 * script cache); the next EVALSHA then hits.
 */
import { createHash } from 'node:crypto';
import { typeError } from '../validate';

/** Sends one command; resolves with the reply (strings, numbers, arrays, null). */
export type Send = (args: string[]) => Promise<unknown>;

/** A subscriber connection: one channel listener, refcounted by the backend. */
export interface Subscriber {
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  close(): void;
}

export interface ClientAdapter {
  /** 'ioredis' or 'node-redis'. */
  readonly flavour: string;
  /** The application's client, as given (the Redis queue adapts it too: adaptQueueClient). */
  readonly client: unknown;
  readonly send: Send;
  /** A new connection for pub/sub (a subscribed connection can send nothing else). */
  subscriber(onMessage: (channel: string) => void): Subscriber;
}

type Fn = (...args: unknown[]) => unknown;
interface Loose {
  [key: string]: unknown;
}
const noop = (): void => undefined;

function fn(obj: Loose, key: string): Fn | undefined {
  const f = obj[key];
  return typeof f === 'function' ? (f as Fn).bind(obj) : undefined;
}

/** Wraps an ioredis or node-redis client; throws a TypeError for anything else. */
export function adaptClient(client: unknown): ClientAdapter {
  if ((typeof client !== 'object' && typeof client !== 'function') || client === null) {
    throw typeError('options.client', 'an ioredis or node-redis client', client);
  }
  const c = client as Loose;
  const call = fn(c, 'call');
  const sendCommand = fn(c, 'sendCommand');
  const duplicate = fn(c, 'duplicate');
  if (duplicate === undefined || (call === undefined && sendCommand === undefined)) {
    throw typeError('options.client', 'an ioredis or node-redis client (call/sendCommand and duplicate)', client);
  }
  // ioredis has `call(cmd, ...args)` and a `status`; node-redis v4/v5 `sendCommand([cmd, ...args])`.
  if (call !== undefined && typeof c.status === 'string') {
    return {
      flavour: 'ioredis',
      client,
      send: (args) => call(...args) as Promise<unknown>,
      subscriber: (onMessage) => {
        const sub = duplicate() as Loose;
        (fn(sub, 'on') as Fn)('error', noop); // reconnects by itself; errors surface as waits that poll
        (fn(sub, 'on') as Fn)('message', (channel: unknown) => onMessage(String(channel)));
        return {
          subscribe: async (ch) => void (await ((fn(sub, 'subscribe') as Fn)(ch) as Promise<unknown>)),
          unsubscribe: async (ch) => void (await ((fn(sub, 'unsubscribe') as Fn)(ch) as Promise<unknown>)),
          close: () => void (fn(sub, 'disconnect') as Fn)(),
        };
      },
    };
  }
  if (sendCommand === undefined) {
    throw typeError('options.client', 'an ioredis or node-redis client', client);
  }
  return {
    flavour: 'node-redis',
    client,
    send: (args) => sendCommand(args) as Promise<unknown>,
    subscriber: (onMessage) => {
      const sub = duplicate() as Loose;
      (fn(sub, 'on') as Fn)('error', noop);
      const listener = (_message: unknown, channel: unknown): void => onMessage(String(channel));
      const connected = (fn(sub, 'connect') as Fn)() as Promise<unknown>;
      connected.catch(noop);
      return {
        subscribe: async (ch) => {
          await connected;
          await ((fn(sub, 'subscribe') as Fn)(ch, listener) as Promise<unknown>);
        },
        unsubscribe: async (ch) => {
          await connected;
          await ((fn(sub, 'unsubscribe') as Fn)(ch, listener) as Promise<unknown>);
        },
        close: () => {
          const end = fn(sub, 'destroy') ?? fn(sub, 'disconnect');
          void connected.then(() => Promise.resolve(end?.()).catch(noop), noop);
        },
      };
    },
  };
}

/** A Lua script run by SHA with the EVAL fallback. */
export class Script {
  readonly sha: string;
  readonly source: string;

  constructor(source: string) {
    this.source = source;
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(send: Send, keys: string[], argv: string[]): Promise<unknown> {
    const tail = [String(keys.length), ...keys, ...argv];
    try {
      return await send(['EVALSHA', this.sha, ...tail]);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.includes('NOSCRIPT')) throw err;
      return send(['EVAL', this.source, ...tail]);
    }
  }
}

// ---- the Redis queue's transport (src/redis/queue.ts) ----

/** One argument of a queue command: payloads are Buffers, the rest strings. */
export type Arg = string | Buffer;

/** A connection of the queue: commands whose bulk replies are Buffers (binary payloads). */
export interface BufferConnection {
  sendBuffer(args: Arg[]): Promise<unknown>;
}

/** The queue's own blocking connection (XREADGROUP BLOCK): a duplicate of the client. */
export interface BlockingConnection extends BufferConnection {
  /** Called each time the connection is (re)established (its CLIENT ID changes then). */
  onReady(listener: () => void): void;
  /** Closes it for good (no reconnect); idempotent; nothing of it keeps the process alive. */
  close(): void;
}

export interface QueueAdapter extends ClientAdapter, BufferConnection {
  /** A new connection for blocking reads (ioredis: connects by itself; node-redis: connect()ed). */
  blocking(): BlockingConnection;
}

/** node-redis v4/v5: RESP bulk strings ('$', 36) and verbatim strings ('=', 61) as Buffers. */
const kBufferTypes = { 36: Buffer, 61: Buffer };

/**
 * The queue's view of an ioredis or node-redis client: the lock adapter above plus Buffer replies
 * and a blocking duplicate. Throws the same TypeError as adaptClient for anything else.
 */
export function adaptQueueClient(client: unknown): QueueAdapter {
  const base = adaptClient(client);
  const c = client as Loose;
  if (base.flavour === 'ioredis') {
    const callBuffer = fn(c, 'callBuffer') ?? fn(c, 'call');
    const sendBuffer = (args: Arg[]): Promise<unknown> => (callBuffer as Fn)(...args) as Promise<unknown>;
    return {
      ...base,
      sendBuffer,
      blocking: () => {
        const dup = (fn(c, 'duplicate') as Fn)() as Loose;
        (fn(dup, 'on') as Fn)('error', noop); // ioredis reconnects by itself; commands report failures
        const dupCall = (fn(dup, 'callBuffer') ?? fn(dup, 'call')) as Fn;
        return {
          sendBuffer: (args) => dupCall(...args) as Promise<unknown>,
          onReady: (listener) => void (fn(dup, 'on') as Fn)('ready', listener),
          close: () => void (fn(dup, 'disconnect') as Fn)(),
        };
      },
    };
  }
  const nodeSend = (target: Loose, args: Arg[]): Promise<unknown> =>
    (fn(target, 'sendCommand') as Fn)(args, { typeMapping: kBufferTypes }) as Promise<unknown>;
  return {
    ...base,
    sendBuffer: (args) => nodeSend(c, args),
    blocking: () => {
      const dup = (fn(c, 'duplicate') as Fn)() as Loose;
      (fn(dup, 'on') as Fn)('error', noop); // reconnects by itself; commands report failures
      let closed = false;
      const connected = Promise.resolve((fn(dup, 'connect') as Fn)());
      connected.catch(noop);
      return {
        sendBuffer: async (args) => {
          await connected;
          return nodeSend(dup, args);
        },
        onReady: (listener) => void (fn(dup, 'on') as Fn)('ready', listener),
        close: () => {
          if (closed) return;
          closed = true;
          // destroy(): v5 (v4: disconnect()); a connect still under way is ended once it settles.
          const end = fn(dup, 'destroy') ?? fn(dup, 'disconnect');
          const stop = (): void => {
            try {
              void Promise.resolve(end?.()).catch(noop);
            } catch {
              // already closed
            }
          };
          stop();
          void connected.then(stop, noop);
        },
      };
    },
  };
}
