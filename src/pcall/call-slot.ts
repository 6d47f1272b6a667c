/**
 * The parent's record of one call of a pcall (the seed's `ChildWork` plus its fate): the work to
 * send, the child running it, the result or the child's exit, and the outcome built from them.
 * Also the {@link Executor} contract that one-shot children (one-shot.ts) and the warm pool
 * (process-pool.ts) implement. Runs in the parent.
 *
 * Ownership: the Pcall creates its slots and hands them to one executor in `start()`; from then
 * on only that executor writes a slot (`dispatch`, `started`, `result`, `fail`, `settle`). The
 * Pcall reads settled slots (`outcomeOf`), and its clocks only call back into the Pcall.
 */
import { type LongTimer, setLongTimeout } from '../timer';
import type { ExitInfo, Runner } from './child-runner';
import { pcallSettledTracing, tracePcallSettled } from '../diagnostics';
import { rebuildError, summarize, type SerializedError } from './error-codec';
import { ChildProcessException } from './errors';
import { decodeHandles } from './handle-codec';
import { decodePayload } from './payload-codec';
import type { WorkMessage } from './protocol';
import { importModule, type TargetSpec } from './target';

/** What came back for a call: whether the target returned or threw, and the v8-serialised payload. */
export interface CallResult {
  readonly ok: boolean;
  /** The value's envelope (handles encoded) or a SerializedError, encoded by payload-codec.ts. */
  readonly payload: Uint8Array;
}

/** Why a call's clock stopped the pcall: its work ran too long, or its child never started it. */
export type ClockExpiry = 'timeout' | 'startTimeout';

/** The two clocks of a call (ms, -1 for none) and what to do when one runs out. */
export interface CallClocks {
  /** From dispatch (child spawned, or work sent to a pool child) to "about to call the target". */
  readonly startTimeout: number;
  /** From "about to call the target" to the result. */
  readonly timeout: number;
  readonly expired: (slot: CallSlot, why: ClockExpiry) => void;
}

/** Tokens of dispatches, unique in this process (see CallSlot.token). */
let lastToken = 0;

/** One call: created by the Pcall constructor, settled once its outcome is known. */
export class CallSlot {
  readonly index: number;
  readonly spec: TargetSpec;
  /** v8-serialised WorkPayload. */
  readonly payload: Uint8Array;
  /** The child running (or that ran) the call; undefined while queued. */
  runner: Runner | undefined;
  /** The result, once received. */
  message: CallResult | undefined;
  /** How the child ended, when it ended while running this call. */
  exit: ExitInfo | undefined;
  /** Why the executor gave up on the call's child (a broken transport), if it did. */
  failure: Error | undefined;
  /**
   * Executor: when the start-up clock runs out, asks whether the child started the call without
   * reporting it; returns when (performance.now() time), or undefined.
   */
  startProbe: (() => number | undefined) | undefined;
  /** True once the child reported it is about to call the target (its work clock runs). */
  workStarted = false;
  /**
   * Token of this call's dispatch, echoed by the child's 'started' report and its result.
   * Indexes are not unique on a pool child (every pcall has a call 0): a late record of the
   * child's previous call must never start the clock of the next one or pass for its result.
   */
  token = 0;
  #settled = false;
  #clocks: CallClocks | undefined;
  #timer: LongTimer | undefined;
  /** performance.now() when the clock that runs now started (dispatch, then "started"). */
  #origin = 0;
  /** Whether the clocks run timers (false between a lazy dispatch and armClocks()). */
  #armed = false;
  /** performance.now() at creation (durationMs of the settled diagnostics message). */
  readonly startedAt = performance.now();
  #resolve!: () => void;
  /** Resolves when the call is over: result received and/or its child gone (flushed). */
  readonly settled = new Promise<void>((resolve) => {
    this.#resolve = resolve;
  });

  constructor(index: number, spec: TargetSpec, payload: Uint8Array) {
    this.index = index;
    this.spec = spec;
    this.payload = payload;
  }

  get pid(): number | undefined {
    return this.runner?.pid;
  }

  get isSettled(): boolean {
    return this.#settled;
  }

  /** The IPC message that starts this call on a one-shot child (after dispatch()). */
  workMessage(): WorkMessage {
    return { $pcall: 'work', index: this.index, token: this.token, payload: this.payload };
  }

  /** Pcall: the clocks to run for this call (before its executor starts it). */
  setClocks(clocks: CallClocks): void {
    this.#clocks = clocks;
  }

  /**
   * Executor: the call is handed to `runner` (spawned, or sent to a pool child). Gives the
   * dispatch its token and starts the start-up clock: Node's start-up, loading the target and
   * reopening handles count here. With `lazy`, the clocks only note their origin: the executor
   * promises to call armClocks() before it yields to the event loop (a warm pool call usually
   * completes first, and then no timer is ever created - no timer could fire before anyway).
   */
  dispatch(runner: Runner, lazy = false): void {
    this.runner = runner;
    this.token = lastToken = lastToken >= 0xffff_fffe ? 1 : lastToken + 1;
    this.#origin = performance.now();
    if (!lazy) this.armClocks();
  }

  /** Executor: starts the timer of the clock that runs now (after a lazy dispatch). Idempotent. */
  armClocks(): void {
    if (this.#armed) return;
    this.#armed = true;
    this.#arm();
  }

  #arm(): void {
    const clocks = this.#clocks;
    if (this.#settled || clocks === undefined) return;
    const [limit, why] = this.workStarted
      ? [clocks.timeout, 'timeout' as const]
      : [clocks.startTimeout, 'startTimeout' as const];
    if (limit < 0) return;
    const left = Math.max(0, limit - (performance.now() - this.#origin));
    this.#timer = setLongTimeout(() => {
      this.#timer = undefined;
      // A child that started without reporting it (a warm pool child notes it in shared memory).
      const at = why === 'startTimeout' ? this.startProbe?.() : undefined;
      if (at !== undefined) this.started(at);
      else clocks.expired(this, why);
    }, left);
  }

  /** Whether this call runs a work clock (its child must report "started" at once). */
  get timed(): boolean {
    return (this.#clocks?.timeout ?? -1) >= 0;
  }

  /**
   * Executor: the child reported it is about to call the target (at `at`, performance.now()
   * time, if it said when). Starts the work clock.
   */
  started(at?: number): void {
    if (this.#settled || this.workStarted) return;
    this.workStarted = true;
    const now = performance.now();
    this.#origin = at !== undefined && at >= this.#origin && at <= now ? at : now;
    if (!this.#armed) return; // lazy: armClocks() starts the work clock
    this.#timer?.clear();
    this.#timer = undefined;
    this.#arm();
  }

  /** Executor: the call's result arrived (the first one counts). */
  result(ok: boolean, payload: Uint8Array): void {
    if (this.#settled || this.message !== undefined) return;
    this.message = { ok, payload };
  }

  /** Executor: the call's child is gone or broken; `exit` / `failure` say why. */
  fail(exit: ExitInfo | undefined, failure?: Error): void {
    if (this.#settled) return;
    this.exit = exit; // also after a result: diagnostics report how the child ended
    if (this.message === undefined) this.failure = failure;
    this.settle();
  }

  settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#timer?.clear();
    this.#timer = undefined;
    if (pcallSettledTracing()) tracePcallSettled(this);
    this.#resolve();
  }
}

/**
 * Child → parent IPC message of a one-shot child: `type` ('started' or 'result') for `slot`'s
 * call, this dispatch of it (same index and token).
 */
export function isMessageFor(message: unknown, type: 'started' | 'result', slot: CallSlot | undefined): boolean {
  if (slot === undefined || typeof message !== 'object' || message === null) return false;
  const m = message as { $pcall?: unknown; index?: unknown; token?: unknown };
  return m.$pcall === type && m.index === slot.index && m.token === slot.token && slot.token !== 0;
}

/** Runs the slots of one pcall on children; the only writer of those slots once started. */
export interface Executor {
  /**
   * Starts (or queues) every slot; each settles when its result arrived or its child is gone.
   * Calls `slot.dispatch()` when a slot is handed to a child, `slot.started()` when that child
   * reports it is about to call the target, `slot.result()` when the result arrives.
   */
  start(slots: readonly CallSlot[]): void;
  /** Sends a signal to the children running unsettled slots of this pcall. */
  signal(signal: 'SIGTERM' | 'SIGKILL'): void;
  /** Settles the slots that never started (the deadline passed while they were queued). */
  cancelPending(): void;
}

/** The outcome of a settled slot: a value, or the ChildProcessException of its failure. */
export type Outcome =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: ChildProcessException };

const moduleExports = new Map<string, Promise<Record<string, unknown> | undefined>>();

/** Exports of a module target, loaded in the parent to find custom error classes; cached. */
function exportsOf(spec: TargetSpec): Promise<Record<string, unknown> | undefined> {
  if (spec.kind !== 'module') return Promise.resolve(undefined);
  let loaded = moduleExports.get(spec.module);
  if (loaded === undefined) {
    loaded = importModule(spec.module).catch(() => undefined);
    moduleExports.set(spec.module, loaded);
  }
  return loaded;
}

function describeExit(exit: ExitInfo | undefined): string {
  if (exit === undefined) return 'ended without a result';
  if (exit.signal) return `ended without a result: killed by ${exit.signal}`;
  if (exit.code !== null) return `ended without a result: exit code ${exit.code}`;
  const why = exit.error instanceof Error ? exit.error.message : String(exit.error);
  return `could not run: ${why}`;
}

/** Builds a settled slot's outcome: synchronously for a value, else a promise. */
export function outcomeOf(slot: CallSlot): Outcome | Promise<Outcome> {
  const message = slot.message;
  if (message?.ok) {
    // The common case, without a promise: a value.
    try {
      return { ok: true, value: decodeHandles(decodePayload(message.payload)) };
    } catch {
      // Reported with its cause below.
    }
  }
  return slowOutcomeOf(slot);
}

async function slowOutcomeOf(slot: CallSlot): Promise<Outcome> {
  const { index, message, exit } = slot;
  const pid = slot.pid;
  if (message) {
    // The payload comes through shared memory: a result the parent cannot decode (a handle
    // whose segment is gone, a corrupt record) fails this call only, never the whole join().
    try {
      if (message.ok) return { ok: true, value: decodeHandles(decodePayload(message.payload)) };
      const serialized = decodePayload(message.payload) as SerializedError;
      const cause = rebuildError(serialized, { pid, moduleExports: await exportsOf(slot.spec) });
      const error = new ChildProcessException(`pcall call ${index} (pid ${pid}) failed: ${summarize(serialized)}`, {
        index,
        pid,
        cause,
      });
      return { ok: false, error };
    } catch (err) {
      const what = message.ok ? 'result' : 'error';
      const error = new ChildProcessException(
        `pcall call ${index} (pid ${pid}) sent a${what === 'error' ? 'n' : ''} ${what} the parent could not decode: ${(err as Error)?.message ?? String(err)}`,
        { index, pid, cause: err },
      );
      return { ok: false, error };
    }
  }
  const what =
    slot.failure !== undefined
      ? slot.failure.message
      : slot.runner === undefined && exit === undefined
        ? 'was cancelled before it started'
        : describeExit(exit);
  const cause = slot.failure ?? exit?.error;
  const error = new ChildProcessException(`pcall call ${index} (pid ${pid ?? 'none'}) ${what}`, {
    index,
    pid,
    exitCode: exit?.code ?? null,
    signal: exit?.signal ?? null,
    ...(cause === undefined ? {} : { cause }),
  });
  return { ok: false, error };
}
