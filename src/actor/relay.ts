/**
 * Relay (ktz `Relay`) and Handler: wire groups of actors into a pipeline and run it. Between two
 * consecutive groups runs ONE ShmQueue shared by all the senders and receivers of that link, so
 * each message reaches exactly one receiver. Runs in the main process.
 *
 * Shutdown cascade: an actor of the first group finishes its loop(), runs shutdown(), then puts
 * one poison pill on its outbox. The receiving group counts pills in ONE shared counter
 * (Decision 15); the member that counts the last one ends the queue, its peers drain what is
 * left and leave their loops, and the cascade repeats one link down.
 *
 * Failure model (Decision 16): an actor that throws in any hook, exits early or is killed makes
 * start() reject with that error; the relay then stops every other actor (SIGTERM, SIGKILL after
 * a grace period) and releases its queues - no hang, no orphan.
 */
import * as path from 'node:path';
import { ShmQueue } from '../queue/queue';
import { SharedArray } from '../shared/shared-array';
import { rebuildError } from '../pcall/error-codec';
import { importModule } from '../pcall/target';
import { optionsObject, rejectUnknownOptions, typeError, validateInteger, validateOneOf } from '../validate';
import { ActorRef } from './actor-ref';
import { ActorExitError, RelayError } from './errors';
import { isLogger, LogRouter, type ActorLogger } from './logger';
import { kLinkSlots, type ActorReport, type LinkSpec } from './protocol';
import { Sink } from './sink';

/** Bound of every link: a number of messages, or `{ messages, bytes }` (bytes: the ring's size). */
export type RelayMaxsize = number | { messages?: number; bytes?: number } | null | undefined;

export interface RelayOptions {
  /**
   * Backpressure: `send()` waits while this many messages are in flight on the link (queued or
   * being handled by a receiver). `{ bytes }` bounds the ring's bytes instead (rounded up to a
   * power of two, at least 1024). Falsy: no message bound (the ring, 1 MiB, is the only one).
   */
  maxsize?: RelayMaxsize;
  /** Logger name of the actors' records (default: each actor's module file name). */
  log?: string;
  /** Where records go: console (default), a pino/winston-shaped logger, or a function. */
  logger?: ActorLogger;
  /** Console only: least level printed (default 'info'; the lifecycle records are 'debug'). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Codec of the links: 'structured' (default: v8 serialize) or 'json' (faster for plain data). */
  codec?: 'structured' | 'json';
  /** Messages a receiver takes from its queue at once (default 16). */
  batch?: number;
  /** Grace (ms) between SIGTERM and SIGKILL when the relay stops actors after a failure (default 2000). */
  killGrace?: number;
}

export interface ConnectOptions {
  /** Named groups, after the positional ones, in key order. */
  named?: Record<string, ActorRef | readonly ActorRef[]>;
}

const kLevels = { debug: 10, info: 20, warn: 30, error: 40 };
const kDefaultRing = 1 << 20;

/** Code in the main process while the relay runs; `q` is the queue actors can write to. */
export abstract class Handler {
  /** A framed shm queue: pass it to actors (constructor args); they put(), run() reads. */
  readonly q: Sink;
  constructor(options: { capacity?: number } = {}) {
    this.q = new Sink(options);
  }
  /** Runs in the main process once every actor is started; start() waits for it too. */
  abstract run(): unknown;
}

function nextPow2(n: number): number {
  let p = 1024;
  while (p < n) p *= 2;
  return p;
}

interface Link {
  readonly q: ShmQueue;
  /** The wake queue of a bounded link (backpressure.ts). */
  readonly wake: ShmQueue<number> | null;
  readonly spec: LinkSpec;
}

export class Relay {
  readonly #messages: number;
  readonly #ring: number;
  readonly #logName: string | undefined;
  readonly #router: LogRouter;
  readonly #codec: 'structured' | 'json';
  readonly #batch: number;
  readonly #killGrace: number;
  #groups: Array<[string, ActorRef[]]> = [];
  #started = false;

  constructor(options: RelayOptions = {}) {
    const opts = optionsObject('options', options);
    rejectUnknownOptions('options', opts, ['maxsize', 'log', 'logger', 'logLevel', 'codec', 'batch', 'killGrace']);
    const { messages, bytes } = maxsizeOf(opts.maxsize);
    this.#messages = messages;
    this.#ring = bytes === 0 ? kDefaultRing : nextPow2(bytes);
    if (opts.log !== undefined && typeof opts.log !== 'string') throw typeError('options.log', 'a string', opts.log);
    this.#logName = opts.log as string | undefined;
    if (opts.logger !== undefined && !isLogger(opts.logger))
      throw typeError('options.logger', 'a function or an object with debug/info/warn/error methods', opts.logger);
    const level = (opts.logLevel ?? 'info') as keyof typeof kLevels;
    validateOneOf('options.logLevel', level, Object.keys(kLevels) as Array<keyof typeof kLevels>);
    this.#router = new LogRouter(opts.logger as ActorLogger | undefined, kLevels[level]);
    const codec = (opts.codec ?? 'structured') as 'structured' | 'json';
    validateOneOf('options.codec', codec, ['structured', 'json']);
    this.#codec = codec;
    const batch = (opts.batch ?? 16) as number;
    validateInteger('options.batch', batch, 1, 4096);
    this.#batch = batch;
    const grace = (opts.killGrace ?? 2000) as number;
    validateInteger('options.killGrace', grace, 0, 600_000);
    this.#killGrace = grace;
  }

  /** The groups as connected: [name, actors] in pipeline order. */
  get groups(): ReadonlyArray<readonly [string, readonly ActorRef[]]> {
    return this.#groups;
  }

  /**
   * Wires groups into a pipeline: `connect(a, [b, c], d)`, each argument an ActorRef or an array
   * of them, optionally followed by `{ named: { name: actors } }`. Positional groups are named
   * `group-0`, `group-1`, ...; named ones come after them in key order. At least two groups.
   * Calling it again before start() replaces the wiring.
   */
  connect(...args: Array<ActorRef | readonly ActorRef[] | ConnectOptions>): this {
    if (this.#started) throw new RelayError('connect() after start(): a relay runs once');
    let named: Record<string, unknown> = {};
    const last = args[args.length - 1];
    if (last !== undefined && !(last instanceof ActorRef) && !Array.isArray(last)) {
      const opts = optionsObject('options', last);
      rejectUnknownOptions('options', opts, ['named']);
      if (opts.named !== undefined) named = optionsObject('options.named', opts.named);
      args = args.slice(0, -1);
    }
    const groups: Array<[string, ActorRef[]]> = [];
    args.forEach((g, i) => groups.push([`group-${i}`, groupOf(`groups[${i}]`, g)]));
    for (const [key, g] of Object.entries(named)) {
      if (groups.some(([n]) => n === key)) throw new RelayError(`group name "${key}" is used twice`);
      groups.push([key, groupOf(`options.named.${key}`, g)]);
    }
    if (groups.length < 2) {
      throw new RelayError(
        `a relay needs at least two groups (a sender group and a receiver group); connect() got ${groups.length}`,
      );
    }
    const seen = new Set<ActorRef>();
    for (const [name, actors] of groups) {
      for (const a of actors) {
        if (seen.has(a)) throw new RelayError(`actor ${a.name} appears twice (group ${name})`);
        seen.add(a);
        if (a.owner !== undefined && a.owner !== this) throw new RelayError(`actor ${a.name} belongs to another relay`);
      }
    }
    for (const [, actors] of this.#groups) for (const a of actors) a.owner = undefined;
    groups.forEach(([name, actors], i) => {
      for (const a of actors) {
        a.owner = this;
        a.wire(name, i < groups.length - 1, i > 0);
      }
    });
    this.#groups = groups;
    return this;
  }

  /**
   * Starts every actor (group by group), then `handler.run()` in this process; resolves when every
   * actor has finished and run() has returned. Rejects with the first failure (an actor's error,
   * rebuilt with its remote stack, or an ActorExitError), after stopping the other actors.
   */
  async start(handler?: Handler): Promise<void> {
    if (this.#started) throw new RelayError('a relay can be started only once');
    if (this.#groups.length < 2) throw new RelayError('start() before connect(): a relay needs at least two groups');
    if (handler !== undefined && !(handler instanceof Handler))
      throw typeError('handler', 'a Handler (subclass) instance', handler);
    this.#started = true;
    const groups = this.#groups;
    const links: Link[] = [];
    const counter = new SharedArray<'int32'>({ type: 'int32', length: (groups.length - 1) * kLinkSlots });
    const all = groups.flatMap(([, actors]) => actors);
    let failure: { error: unknown } | undefined;
    const finished = new Set<ActorRef>();
    const handles: Array<ReturnType<ActorRef['start']>> = [];
    let graceTimer: NodeJS.Timeout | undefined;
    // Actors that reported an error end by themselves (they put their pill and exit): they are
    // signalled only after the grace period, so their own exit code is what they report.
    const failed = new Set<ActorRef>();
    const owners = new Map<ReturnType<ActorRef['start']>, ActorRef>();
    const stopAll = (): void => {
      for (const h of handles) if (!failed.has(owners.get(h)!)) h.signal('SIGTERM');
      graceTimer ??= setTimeout(() => {
        for (const h of handles) h.signal('SIGKILL');
      }, this.#killGrace);
    };
    const fail = (error: unknown): void => {
      if (failure !== undefined) return;
      failure = { error };
      stopAll();
      handler?.q.end();
    };
    const pendingErrors: Array<Promise<void>> = [];
    const judged: Array<Promise<void>> = [];
    try {
      for (let i = 0; i + 1 < groups.length; i++) {
        const q = new ShmQueue(undefined, { capacity: this.#ring, codec: this.#codec });
        // Tokens only: at most one is pending at a time (backpressure.ts).
        const wake = this.#messages > 0 ? new ShmQueue<number>(undefined, { capacity: 4096, codec: 'json' }) : null;
        links.push({
          q,
          wake,
          spec: {
            queue: q.name,
            bound: wake === null ? undefined : { max: this.#messages, wake: wake.name },
            counter: counter.name,
            base: i * kLinkSlots,
            senders: groups[i][1].length,
          },
        });
      }
      this.#log('debug', `relay: starting ${all.length} actors in ${groups.length} groups`);
      groups.forEach(([group, actors], gi) => {
        for (const actor of actors) {
          const logName = this.#logName ?? path.basename(actor.module).replace(/\.[cm]?[jt]s$/, '');
          let reported = false;
          const onReport = (r: ActorReport): void => {
            if (r === null || typeof r !== 'object') return;
            if (r.t === 'log') {
              // Runs in an IPC/worker 'message' listener: a logger that throws must not become an
              // uncaught exception of this process. Its error is the relay's failure instead.
              try {
                this.#router.emit(logName, r.level, group, actor.name, String(r.msg), r.args ?? []);
              } catch (err) {
                fail(err);
              }
            } else if (r.t === 'done') finished.add(actor);
            else if (r.t === 'error' && !reported) {
              reported = true;
              failed.add(actor);
              pendingErrors.push(this.#rebuild(actor, r.hook, r.error).then((err) => fail(err)));
            }
          };
          const handle = actor.start(
            {
              group,
              logName,
              codec: this.#codec,
              inbox: gi > 0 ? links[gi - 1].spec : undefined,
              outbox: gi < links.length ? links[gi].spec : undefined,
              batch: this.#batch,
            },
            onReport,
          );
          handles.push(handle);
          owners.set(handle, actor);
          judged.push(
            handle.exited.then(async (exit) => {
              await Promise.all(pendingErrors);
              if (finished.has(actor) || reported) return;
              const how = exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
              fail(
                new ActorExitError(`actor ${actor.name} (${group}) ${how} before finishing`, {
                  actor: { name: actor.name, group, pid: actor.pid },
                  exitCode: exit.code,
                  signal: exit.signal,
                  ...(exit.error === undefined ? {} : { cause: exit.error }),
                }),
              );
            }),
          );
        }
      });
      const run =
        handler === undefined
          ? Promise.resolve()
          : Promise.resolve()
              .then(() => handler.run())
              .then(
                () => undefined,
                (err: unknown) => fail(err),
              );
      // Each actor's end is judged (its error rebuilt, or an early exit turned into an error).
      await Promise.all(judged);
      // Every actor has finished: a handler still reading its queue sees the end (Control.eol).
      handler?.q.end();
      await run;
    } finally {
      if (graceTimer !== undefined) clearTimeout(graceTimer);
      for (const h of handles) h.signal('SIGKILL'); // none alive unless setup threw midway
      // Every actor has ended. Unlink as well as close: an actor that was killed never released
      // its handles, and its attachment would keep the segments until a later sweep.
      for (const link of links) {
        link.q.close();
        link.q.unlink();
        link.wake?.close();
        link.wake?.unlink();
      }
      counter.close();
      counter.unlink();
      if (handler !== undefined) {
        handler.q.close();
        handler.q.queue.unlink();
      }
    }
    this.#log('debug', 'relay: finished');
    if (failure !== undefined) throw failure.error;
  }

  async #rebuild(actor: ActorRef, hook: string, serialized: Parameters<typeof rebuildError>[0]): Promise<unknown> {
    let moduleExports: Record<string, unknown> | undefined;
    if (serialized.kind === 'error') {
      try {
        moduleExports = await importModule(actor.module);
      } catch {
        moduleExports = undefined;
      }
    }
    const err = rebuildError(serialized, { moduleExports, pid: actor.pid });
    if (typeof err === 'object' && err !== null) {
      Object.defineProperty(err, 'actor', {
        value: { name: actor.name, group: actor.group, pid: actor.pid, hook },
        enumerable: true,
        configurable: true,
        writable: true,
      });
    }
    return err;
  }

  #log(level: keyof typeof kLevels, msg: string): void {
    this.#router.emit(this.#logName ?? 'shmsync.relay', kLevels[level], 'relay', 'main', msg, []);
  }
}

function groupOf(name: string, value: unknown): ActorRef[] {
  if (value instanceof ActorRef) return [value];
  if (Array.isArray(value)) {
    if (value.length === 0) throw new RelayError(`${name} is an empty group`);
    value.forEach((a, i) => {
      if (!(a instanceof ActorRef)) throw typeError(`${name}[${i}]`, 'an ActorRef', a);
    });
    return [...(value as ActorRef[])];
  }
  throw typeError(name, 'an ActorRef or an array of ActorRefs', value);
}

function maxsizeOf(value: unknown): { messages: number; bytes: number } {
  if (value === undefined || value === null || value === 0 || value === false) return { messages: 0, bytes: 0 };
  if (typeof value === 'number') {
    validateInteger('options.maxsize', value, 1, 2 ** 24);
    return { messages: value, bytes: 0 };
  }
  const opts = optionsObject('options.maxsize', value);
  rejectUnknownOptions('options.maxsize', opts, ['messages', 'bytes']);
  const messages = (opts.messages ?? 0) as number;
  const bytes = (opts.bytes ?? 0) as number;
  if (messages) validateInteger('options.maxsize.messages', messages, 1, 2 ** 24);
  if (bytes) validateInteger('options.maxsize.bytes', bytes, 1, 2 ** 31);
  return { messages: messages || 0, bytes: bytes || 0 };
}
