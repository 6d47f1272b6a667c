/**
 * Handles (SharedMemory, Mutex, queues, shared values) cross process and thread boundaries as
 * references: a small plain object naming the segment, produced by `toJSON()` and reopened on
 * the other side with {@link reviveHandle}. The codec (queues) and pcall use this protocol.
 */
import { valueError } from '../validate';

/** The reference form of a handle. `type` selects the class that reopens it. */
export interface HandleRef {
  readonly $shmsync: string;
  readonly name: string;
  readonly [key: string]: unknown;
}

type Reviver = (ref: HandleRef) => unknown;
const revivers = new Map<string, Reviver>();

/** Registers how to reopen references of one handle type (called by each handle module). */
export function registerHandleType(type: string, revive: Reviver): void {
  revivers.set(type, revive);
}

export function isHandleRef(value: unknown): value is HandleRef {
  return (
    typeof value === 'object' && value !== null &&
    typeof (value as HandleRef).$shmsync === 'string' && typeof (value as HandleRef).name === 'string'
  );
}

/** Reopens the handle a reference names (in this process or thread). */
export function reviveHandle<T = unknown>(ref: HandleRef): T {
  const revive = revivers.get(ref.$shmsync);
  if (revive === undefined) throw valueError('ref.$shmsync', 'a known shmsync handle type', ref.$shmsync);
  return revive(ref) as T;
}

/** A `JSON.parse` reviver that reopens every handle reference found in the text. */
export function handleReviver(_key: string, value: unknown): unknown {
  return isHandleRef(value) && revivers.has(value.$shmsync) ? reviveHandle(value) : value;
}
