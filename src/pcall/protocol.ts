/**
 * Messages between the parent and a one-shot pcall child (child_process IPC or a worker's
 * parentPort): the work, the "started" report and the result. Pool children use their shared
 * memory rings instead (transport.ts) and keep IPC only for their lifecycle (a process child exits
 * when its channel closes).
 *
 * The work of a call is serialised once, in the parent, when the Pcall is built, so arguments
 * that cannot be cloned fail early (TypeError from the constructor) and the bytes can be handed
 * to any transport as they are.
 */
import { decodePayload, encodePayload } from './payload-codec';
import type { HandleEnvelope } from './handle-codec';
import type { TargetSpec } from './target';

/** What a child must run for one call (deserialised in the child). */
export interface WorkPayload {
  readonly target: TargetSpec;
  /** The argument list as an envelope: handles out of band (handle-codec.ts). */
  readonly args: HandleEnvelope;
  /**
   * Modules that register the Lockable classes of the call's handles (arguments, method target
   * object), loaded by the child before it rebuilds them. Chosen by the parent, never by data.
   */
  readonly modules: readonly string[];
}

/** Parent → one-shot child: run one call, send its result, exit. */
export interface WorkMessage {
  readonly $pcall: 'work';
  readonly index: number;
  /** Unique per dispatch; echoed by the 'started' report and the result (CallSlot.token). */
  readonly token: number;
  /** serializeWork(WorkPayload) (payload-codec.ts). */
  readonly payload: Uint8Array;
}

/**
 * Child → parent: call `index` has loaded its target and arguments and is about to call it. The
 * call's `timeout` clock starts here; before it, `startTimeout` bounds the child's start-up.
 */
export interface StartedMessage {
  readonly $pcall: 'started';
  readonly index: number;
  readonly token: number;
}

/** One-shot child → parent: the one result of the call (`payload`: v8-serialised value or error). */
export interface ResultMessage {
  readonly $pcall: 'result';
  readonly index: number;
  readonly token: number;
  /** Whether the target returned (`payload` = its value's envelope) or threw (a SerializedError), encoded by payload-codec.ts. */
  readonly ok: boolean;
  readonly payload: Uint8Array;
}

/** Brand of ProcessPool instances (checked by pcall options without importing the class). */
export const kPoolBrand = Symbol.for('shmsync.pcall.pool');

/** Parent: serialises a call's work; throws the DataCloneError of an uncloneable argument. */
export function serializeWork(payload: WorkPayload): Buffer {
  return encodePayload(payload);
}

/** Child: reads a call's work. */
export function deserializeWork(bytes: Uint8Array): WorkPayload {
  return decodePayload(bytes) as WorkPayload;
}

/** True for a message of the given type (its fields are checked by whoever reads them). */
export function isControl<T extends WorkMessage | StartedMessage | ResultMessage>(
  value: unknown,
  type: T['$pcall'],
): value is T {
  return typeof value === 'object' && value !== null && (value as { $pcall?: unknown }).$pcall === type;
}
