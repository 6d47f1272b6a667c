/**
 * The handler's queue (`handler.q`, ktz `Handler.q`): a ShmQueue whose records are framed like a
 * relay link's (control.ts), so `Control.eol` / `Control.poison` travel as tags and user values
 * never look like them. Crosses into actors as a handle (constructor arguments). Either process.
 */
import { ShmQueue, type GetOptions, type PutOptions } from '../queue/queue';
import { ReadOnly } from '../errors';
import { registerHandleType, type HandleRef } from '../wire/handle-ref';
import { Control, controlFrame, isControl, kData, kEol, kPoison } from './control';

type Frame = [number, unknown?];

/** A framed shared-memory queue: any number of writers (actors), readers (the handler). */
export class Sink<T = unknown> {
  readonly #q: ShmQueue<Frame>;

  /**
   * `new Sink({ capacity })` creates a new queue (ring bytes, a power of two; default 1 MiB);
   * `new Sink(name)` opens an existing one (a reference's, in an actor).
   */
  constructor(nameOrOptions?: string | { capacity?: number }) {
    const name = typeof nameOrOptions === 'string' ? nameOrOptions : undefined;
    const options = typeof nameOrOptions === 'object' && nameOrOptions !== null ? nameOrOptions : {};
    this.#q =
      name === undefined
        ? new ShmQueue<Frame>(undefined, { capacity: options.capacity ?? 1 << 20 })
        : new ShmQueue<Frame>(name, { create: 'open' });
  }

  get name(): string {
    return this.#q.name;
  }

  /** The underlying ShmQueue (its info(), size...). */
  get queue(): ShmQueue<Frame> {
    return this.#q;
  }

  /** Puts a value, or a Control value as its tag; waits while the queue is full. */
  async put(value: T | symbol, options?: PutOptions): Promise<void> {
    await this.#q.put(isControl(value) ? controlFrame(value) : [kData, value], options);
  }

  /** Next value, or `Control.eol` once the stream has ended (end()) and is drained. */
  async get(options?: GetOptions): Promise<T | symbol> {
    let frame: Frame;
    try {
      frame = await this.#q.get(options);
    } catch (err) {
      if (err instanceof ReadOnly) return Control.eol;
      throw err;
    }
    return unframe(frame) as T | symbol;
  }

  /** Iterates values until a `Control.eol` arrives or the stream has ended. Poison pills are skipped. */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const v = await this.get();
      if (v === Control.eol) return;
      if (v === Control.poison) continue;
      yield v as T;
    }
  }

  /** Ends the stream for every handle: readers drain, then see `Control.eol`. */
  end(): void {
    this.#q.end();
  }

  close(): void {
    this.#q.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  toJSON(): HandleRef {
    return { ...this.#q.toJSON(), $shmsync: 'ActorSink' };
  }
}

function unframe(frame: Frame): unknown {
  if (!Array.isArray(frame)) return frame;
  if (frame[0] === kPoison) return Control.poison;
  if (frame[0] === kEol) return Control.eol;
  return frame[1];
}

registerHandleType('ActorSink', (ref) => new Sink(ref.name), Sink);
