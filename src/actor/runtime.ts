/**
 * The machinery behind one Actor instance, in its process or worker thread: its inbox and
 * outbox queues, the bounds of bounded links (backpressure.ts), the group's poison counter, send(), the
 * default receive loop and log(). Runs on the actor's JS thread.
 */
import { inspect } from 'node:util';
import { performance } from 'node:perf_hooks';
import { ShmQueue } from '../queue/queue';
import { SharedArray } from '../shared/shared-array';
import { CorruptError, ReadOnly } from '../errors';
import { kData, kPoison } from './control';
import { RelayError } from './errors';
import type { Actor, ActorRuntime } from './actor';
import { LinkBound } from './backpressure';
import { kPoisonSlot, type ActorInit, type ActorReport, type LinkSpec } from './protocol';

type Frame = unknown[];

/** Messages staged by send() before they are put in one batch. */
const kSendBatch = 32;
/** Most arguments of one message (send(...args)): more cannot come from send() in practice. */
export const kMaxArgs = 65_536;
/** Longest run without a macrotask turn (ms): IPC 'disconnect' (parent died) and logs need one. */
const kYieldMs = 8;

interface OpenLink {
  readonly q: ShmQueue<Frame>;
  /** The link's message bound (maxsize), when it has one. */
  readonly bound: LinkBound | null;
  readonly counter: SharedArray<'int32'>;
  readonly spec: LinkSpec;
}

function openLink(spec: LinkSpec, codec: 'structured' | 'json'): OpenLink {
  const counter = new SharedArray<'int32'>(spec.counter, { create: 'open', type: 'int32' });
  return {
    q: new ShmQueue<Frame>(spec.queue, { create: 'open', codec }),
    bound: spec.bound === undefined ? null : new LinkBound(spec.bound, counter, spec.base),
    counter,
    spec,
  };
}

function cloneable(value: unknown): unknown {
  if (typeof value !== 'object' && typeof value !== 'function')
    return typeof value === 'symbol' ? String(value) : value;
  if (value === null) return value;
  try {
    return structuredClone(value);
  } catch {
    return inspect(value, { depth: 3 });
  }
}

export class Runtime implements ActorRuntime {
  readonly name: string;
  readonly group: string;
  /** The hook running now (reported with an error). */
  hook = 'constructor';
  readonly #in: OpenLink | null;
  readonly #out: OpenLink | null;
  readonly #batch: number;
  readonly #post: (report: ActorReport) => void;
  #ops = 0;
  #lastYield = performance.now();
  #staged: Frame[] = [];
  #flushScheduled = false;
  #flushing: Promise<void> | null = null;
  /** A failed background flush: thrown by the next send() or flush(). */
  #sendError: unknown = undefined;

  constructor(init: ActorInit, post: (report: ActorReport) => void) {
    this.name = init.name;
    this.group = init.group;
    this.#batch = init.batch;
    this.#post = post;
    this.#in = init.inbox === undefined ? null : openLink(init.inbox, init.codec);
    this.#out = init.outbox === undefined ? null : openLink(init.outbox, init.codec);
  }

  get sender(): boolean {
    return this.#out !== null;
  }
  get receiver(): boolean {
    return this.#in !== null;
  }

  /**
   * Stages one message; the staged ones go to the queue in one putMany when kSendBatch are
   * staged, before this actor waits for a credit, at the next event-loop turn (setImmediate), and
   * before its pill. One put and at most one wake per batch instead of per message.
   */
  async send(args: unknown[]): Promise<void> {
    if (this.#sendError !== undefined) throw this.#sendError;
    if (args.length > kMaxArgs) throw new RelayError(`send() takes at most ${kMaxArgs} arguments, got ${args.length}`);
    const bound = this.#out!.bound;
    // A bounded link: room for one more message in flight (staged, queued or being handled).
    if (bound !== null && !bound.tryAcquire()) {
      await this.flush(); // the staged messages hold room: deliver them before waiting
      await bound.acquire();
    }
    const frame: Frame = [kData, ...args];
    this.#staged.push(frame);
    if (this.#staged.length >= kSendBatch) await this.flush();
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#flushSoon);
    }
    if ((++this.#ops & 63) === 0) await this.#maybeYield();
  }

  readonly #flushSoon = (): void => {
    this.#flushScheduled = false;
    this.flush().catch((err: unknown) => {
      this.#sendError ??= err; // the next send(), or the flush before the pill, throws it
    });
  };

  /** Puts every staged message, in order (flushes never overlap: each waits for the previous). */
  async flush(): Promise<void> {
    if (this.#out === null) return;
    while (this.#flushing !== null) await this.#flushing.catch(noop);
    if (this.#sendError !== undefined) throw this.#sendError;
    if (this.#staged.length === 0) return;
    const batch = this.#staged;
    this.#staged = [];
    const q = this.#out!.q;
    const done = batch.length === 1 && q.tryPut(batch[0]) ? Promise.resolve() : q.putMany(batch);
    this.#flushing = done;
    try {
      await done;
    } catch (err) {
      this.#sendError ??= err;
      throw err;
    } finally {
      this.#flushing = null;
    }
  }

  /** The default loop(): recv() every data message until the inbox has ended and is drained. */
  async receiveLoop(actor: Actor): Promise<void> {
    const link = this.#in!;
    const { q, bound } = link;
    for (;;) {
      let batch: Frame[];
      try {
        batch = await q.getMany(this.#batch);
      } catch (err) {
        if (err instanceof ReadOnly) return; // every sender finished and the queue is drained
        throw err;
      }
      for (let i = 0; i < batch.length; i++) {
        const frame = batch[i];
        if (!Array.isArray(frame) || frame.length === 0)
          throw new CorruptError(`${this.name}: a malformed relay message`);
        const tag = frame[0];
        if (tag === kData) {
          // Bounded: a frame forged into the shared ring must not reach recv(...) with a spread
          // the stack cannot hold (a RangeError with no code).
          if (frame.length > kMaxArgs + 1)
            throw new CorruptError(
              `${this.name}: a relay message with ${frame.length - 1} arguments (at most ${kMaxArgs})`,
            );
          frame.shift();
          this.hook = 'recv';
          const r = actor.recv(...frame);
          if (r !== undefined && typeof (r as Promise<void>).then === 'function') await r;
          this.hook = 'loop';
          bound?.release(); // room for one more message on this link
        } else if (tag === kPoison) {
          this.#addPoison(link);
        } else {
          throw new CorruptError(`${this.name}: a relay message with an unknown tag ${inspect(tag)}`);
        }
      }
      await this.#maybeYield();
    }
  }

  /**
   * One sender upstream has finished. The counter is the receiving GROUP's (Decision 15): the
   * pills reach arbitrary members. The member that counts the last one ends the queue: its peers
   * drain what is left (every data message precedes its sender's pill), then leave their loops.
   */
  #addPoison(link: OpenLink): void {
    const n = Atomics.add(link.counter.array, link.spec.base + kPoisonSlot, 1) + 1;
    this.log(10, 'received %d/%d poison pills', [n, link.spec.senders]);
    if (n >= link.spec.senders) link.q.end();
  }

  /** After shutdown(): this sender's poison pill (Decision 17), or in a finally (Decision 16). */
  async poison(): Promise<void> {
    const out = this.#out;
    if (out === null) return;
    await this.flush();
    const frame: Frame = [kPoison];
    if (!out.q.tryPut(frame)) await out.q.put(frame);
  }

  log(level: number, msg: string, args: unknown[]): void {
    this.#post({ t: 'log', level, msg, args: args.map(cloneable) });
  }

  async #maybeYield(): Promise<void> {
    const now = performance.now();
    if (now - this.#lastYield < kYieldMs) return;
    await new Promise((resolve) => setImmediate(resolve));
    this.#lastYield = performance.now();
  }

  close(): void {
    for (const link of [this.#in, this.#out]) {
      if (link === null) continue;
      link.q.close();
      link.bound?.close();
      link.counter.close();
    }
  }
}

function noop(): void {}
