/**
 * The Actor base class (ktz `Actor`). A user subclasses it in a module; the relay creates each
 * instance in its own child process or worker thread (ActorRef names the module, export and
 * constructor arguments). Everything in this file runs in the actor's process or thread.
 *
 * Lifecycle (actor-main.ts): constructor → startup() → loop() → shutdown() → one poison pill per
 * outbox (after shutdown, so what shutdown() sends is delivered: Decision 17).
 */
import { RelayError } from './errors';

/** What the actor machinery (runtime.ts) gives an instance. */
export interface ActorRuntime {
  readonly name: string;
  readonly group: string;
  readonly sender: boolean;
  readonly receiver: boolean;
  send(args: unknown[]): Promise<void>;
  receiveLoop(actor: Actor): Promise<void>;
  log(level: number, msg: string, args: unknown[]): void;
}

/** Registry slot (not a module variable: a second copy of the package must see it too). */
const kPending = Symbol.for('shmsync.actor.pendingRuntime');
const kRuntime = Symbol.for('shmsync.actor.runtime');
/** Brand of the base class, recognised across copies of the package. */
export const kActorBrand = Symbol.for('shmsync.actor.brand');

type Slots = Record<symbol, ActorRuntime | undefined>;

/** @internal actor-main.ts: the runtime the next Actor constructed in this thread receives. */
export function setPendingRuntime(runtime: ActorRuntime | undefined): void {
  (globalThis as unknown as Slots)[kPending] = runtime;
}

/** Level names and numbers `log()` accepts (numbers as Python's logging). */
export type LogLevel = 'debug' | 'info' | 'warn' | 'warning' | 'error' | 'critical' | number;
const kLevelNumbers: Record<string, number> = {
  debug: 10,
  info: 20,
  warn: 30,
  warning: 30,
  error: 40,
  critical: 50,
};

function levelNumber(level: unknown): number {
  if (typeof level === 'number' && Number.isFinite(level)) return level;
  if (typeof level === 'string' && level.toLowerCase() in kLevelNumbers) return kLevelNumbers[level.toLowerCase()];
  throw new TypeError(`log level must be 'debug', 'info', 'warn', 'error' or a number. Received ${String(level)}`);
}

/** A trailing `{ level }` (and nothing else) is log()'s options object, not a format argument. */
function isLevelOptions(value: unknown): value is { level: LogLevel } {
  if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === 'level';
}

export class Actor {
  declare readonly [kRuntime]: ActorRuntime | undefined;

  constructor() {
    const slots = globalThis as unknown as Slots;
    Object.defineProperty(this, kRuntime, { value: slots[kPending], enumerable: false });
    slots[kPending] = undefined;
  }

  #runtime(): ActorRuntime {
    const rt = this[kRuntime];
    if (rt === undefined) {
      throw new RelayError(
        `${this.constructor.name} was constructed outside a relay: actors are created by a Relay from an ActorRef`,
      );
    }
    return rt;
  }

  /** The actor's name (ActorRef `name`, default `<Export>-<n>`). */
  get name(): string {
    return this.#runtime().name;
  }
  /** Its group's name (`group-0`, ... or the name given to connect()). */
  get group(): string {
    return this.#runtime().group;
  }
  /** True when a next group exists (send() may be called): not in the last group. */
  get sender(): boolean {
    return this.#runtime().sender;
  }
  /** True when a previous group exists (recv() is called): not in the first group. */
  get receiver(): boolean {
    return this.#runtime().receiver;
  }

  /** Hook: runs before loop(). */
  startup(): void | Promise<void> {}

  /**
   * The actor's life. For a receiver the default takes messages and calls recv() until every
   * sender upstream has finished and the queue is drained. An actor of the first group has no
   * upstream and must override loop(): it lives as long as its loop.
   */
  loop(): void | Promise<void> {
    const rt = this.#runtime();
    if (!rt.receiver) {
      throw new RelayError(
        `${this.constructor.name} (${rt.name}) is in the first group of its relay: it receives nothing, so it must override loop()`,
      );
    }
    return rt.receiveLoop(this);
  }

  /**
   * Hook: one message from the previous group, with the arguments given to send(). Keyword-style
   * arguments (the seed's kwargs) arrive as the trailing plain object the sender passed.
   */
  // eslint-disable-next-line @typescript-eslint/no-unused-vars, @typescript-eslint/no-explicit-any -- subclasses narrow it
  recv(...args: any[]): void | Promise<void> {}

  /** Hook: runs after loop(); messages it sends are delivered (before this actor's poison pill). */
  shutdown(): void | Promise<void> {}

  /**
   * Sends one message to the next group: exactly one of its actors receives `recv(...args)`.
   * Waits while the queue to the next group is full (the relay's `maxsize`).
   */
  send(...args: unknown[]): Promise<void> {
    const rt = this.#runtime();
    if (!rt.sender) {
      return Promise.reject(
        new RelayError(`${rt.name} is in the last group of its relay: it has no next group to send() to`),
      );
    }
    return rt.send(args);
  }

  /**
   * Logs in the main process through the relay's logger: `log(msg, ...args, { level })`, `msg`
   * formatted with `args` (util.format: %s %d %o ...) and prefixed `[group] (name)`. Level
   * default 'info'.
   */
  log(msg: unknown, ...args: unknown[]): void {
    let level = 20;
    if (args.length > 0 && isLevelOptions(args[args.length - 1])) {
      level = levelNumber((args.pop() as { level: LogLevel }).level);
    }
    this.#runtime().log(level, String(msg), args);
  }

  static {
    Object.defineProperty(this.prototype, kActorBrand, { value: true });
  }
}

/** Whether `cls` is a subclass of (some copy of) Actor. */
export function isActorClass(cls: unknown): cls is new (...args: unknown[]) => Actor {
  return (
    typeof cls === 'function' && (cls as { prototype?: Record<symbol, unknown> }).prototype?.[kActorBrand] === true
  );
}
