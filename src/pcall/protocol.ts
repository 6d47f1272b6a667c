/**
 * Control messages between the parent and a pcall child (child_process IPC or a worker's
 * parentPort). Results do not travel here: they go through the result transport (transport.ts).
 *
 * The work of a call is serialised once, in the parent, when the Pcall is built, so arguments
 * that cannot be cloned fail early (TypeError from the constructor) and the bytes can be handed
 * to any transport as they are.
 */
import * as v8 from 'node:v8';
import type { HandleEnvelope } from '../wire/handle-codec';
import type { TargetSpec } from './target';
import type { ChildEnd } from './transport';

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

/** Parent → child: run one call and send its result to `channel`. */
export interface WorkMessage {
  readonly $pcall: 'work';
  readonly index: number;
  /** Unique per dispatch; echoed by the 'started' report (call-slot.ts, CallSlot.token). */
  readonly token: number;
  /** `v8.serialize(WorkPayload)`. */
  readonly payload: Uint8Array;
  readonly channel: ChildEnd;
  /** One-shot child: exit after sending the result. Pool child: wait for the next work. */
  readonly last: boolean;
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

/** Parent → pool child: exit now (the pool is closing). */
export interface StopMessage {
  readonly $pcall: 'stop';
}

/** Brand of ProcessPool instances (checked by pcall options without importing the class). */
export const kPoolBrand = Symbol.for('shmsync.pcall.pool');

/** Parent: serialises a call's work; throws the DataCloneError of an uncloneable argument. */
export function serializeWork(payload: WorkPayload): Buffer {
  return v8.serialize(payload);
}

/** Child: reads a call's work. */
export function deserializeWork(bytes: Uint8Array): WorkPayload {
  return v8.deserialize(bytes) as WorkPayload;
}

/** True for a well-formed control message of the given type. */
export function isControl<T extends WorkMessage | StopMessage>(value: unknown, type: T['$pcall']): value is T {
  return typeof value === 'object' && value !== null && (value as { $pcall?: unknown }).$pcall === type;
}
