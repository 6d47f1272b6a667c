/**
 * The parent's record of one call of a pcall (the seed's `ChildWork` plus its fate): the work to
 * send, the child running it, the result message or the child's exit, and the outcome built from
 * them. Also the {@link Executor} contract that one-shot children (one-shot.ts) and the warm pool
 * (process-pool.ts) implement. Runs in the parent.
 */
import { type LongTimer, setLongTimeout } from '../timer';
import * as v8 from 'node:v8';
import type { ExitInfo, Runner } from './child-runner';
import { pcallSettledTracing, tracePcallSettled } from '../diagnostics';
import { rebuildError, summarize, type SerializedError } from './error-codec';
import { ChildProcessException } from './errors';
import { decodeHandles } from './handle-codec';
import type { WorkMessage } from './protocol';
import { importModule, type TargetSpec } from './target';
import type { ResultChannel, ResultMessage } from './transport';

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
  message: ResultMessage | undefined;
  /** How the child ended, when it ended while running this call. */
  exit: ExitInfo | undefined;
  /** True once the child reported it is about to call the target (its work clock runs). */
  workStarted = false;
  /**
   * Token of this call's dispatch, echoed by the child's 'started' report. Indexes are not
   * unique on a pool child (every pcall has a call 0), and a report travels over IPC while the
   * result travels through shared memory: a late report of the child's previous call must not
   * start the clock of the next one.
   */
  token = 0;
  #settled = false;
  #clocks: CallClocks | undefined;
  #timer: LongTimer | undefined;
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

  /** The control message that starts this call on a child. */
  workMessage(channel: ResultChannel, last: boolean): WorkMessage {
    this.token = ++lastToken;
    return {
      $pcall: 'work',
      index: this.index,
      token: this.token,
      payload: this.payload,
      channel: channel.childEnd,
      last,
    };
  }

  /** Pcall: the clocks to run for this call (before its executor starts it). */
  setClocks(clocks: CallClocks): void {
    this.#clocks = clocks;
  }

  /**
   * Executor: the call was handed to a child (spawned, or sent to a pool child). Starts the
   * start-up clock: Node's start-up, loading the target and reopening handles count here.
   */
  dispatched(): void {
    const clocks = this.#clocks;
    if (this.#settled || clocks === undefined || clocks.startTimeout < 0) return;
    this.#timer?.clear();
    this.#timer = setLongTimeout(() => clocks.expired(this, 'startTimeout'), clocks.startTimeout);
  }

  /** Executor: the child reported it is about to call the target. Starts the work clock. */
  started(): void {
    if (this.#settled || this.workStarted) return;
    this.workStarted = true;
    this.#timer?.clear();
    this.#timer = undefined;
    const clocks = this.#clocks;
    if (clocks === undefined || clocks.timeout < 0) return;
    this.#timer = setLongTimeout(() => clocks.expired(this, 'timeout'), clocks.timeout);
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
 * Child → parent control message: `slot`'s call (this dispatch of it: same index and token) is
 * about to run its target (protocol.ts).
 */
export function isStartedMessage(message: unknown, slot: CallSlot | undefined): boolean {
  if (slot === undefined || typeof message !== 'object' || message === null) return false;
  const m = message as { $pcall?: unknown; index?: unknown; token?: unknown };
  return m.$pcall === 'started' && m.index === slot.index && m.token === slot.token && slot.token !== 0;
}

/** Runs the slots of one pcall on children. */
export interface Executor {
  /**
   * Starts (or queues) every slot; each settles when its result arrived or its child is gone.
   * Calls `slot.dispatched()` when a slot is handed to a child and `slot.started()` when that
   * child reports `{ $pcall: 'started', index }`.
   */
  start(slots: readonly CallSlot[], channel: ResultChannel): void;
  /** The Pcall received `slot`'s result. */
  resultArrived(slot: CallSlot): void;
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

/** Builds a settled slot's outcome (after the result channel has been drained). */
export async function outcomeOf(slot: CallSlot): Promise<Outcome> {
  const { index, message, exit } = slot;
  const pid = slot.pid;
  if (message) {
    // The payload comes through shared memory: a result the parent cannot decode (a handle
    // whose segment is gone, a corrupt record) fails this call only, never the whole join().
    try {
      if (message.ok) return { ok: true, value: decodeHandles(v8.deserialize(message.payload)) };
      const serialized = v8.deserialize(message.payload) as SerializedError;
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
  const what = slot.runner === undefined && exit === undefined ? 'was cancelled before it started' : describeExit(exit);
  const error = new ChildProcessException(`pcall call ${index} (pid ${pid ?? 'none'}) ${what}`, {
    index,
    pid,
    exitCode: exit?.code ?? null,
    signal: exit?.signal ?? null,
    ...(exit?.error === undefined ? {} : { cause: exit.error }),
  });
  return { ok: false, error };
}
