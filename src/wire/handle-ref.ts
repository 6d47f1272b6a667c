/**
 * Handles (SharedMemory, Mutex, queues, shared values) cross process and thread boundaries as
 * references: a small plain object naming the segment, produced by `toJSON()` and reopened on
 * the other side with {@link reviveHandle}. The codec (queues) and pcall use this protocol.
 */
import * as path from 'node:path';
import { valueError } from '../validate';

/** The reference form of a handle. `type` selects the class that reopens it. */
export interface HandleRef {
  readonly $shmsync: string;
  readonly name: string;
  readonly [key: string]: unknown;
}

type Reviver = (ref: HandleRef) => unknown;
const revivers = new Map<string, Reviver>();

/**
 * Where each handle type registers its reviver: a module path relative to the package's
 * compiled root (this file's parent folder). A process or thread that receives a reference of a
 * type whose module it has not loaded yet (a pcall child, a worker) loads that module, which
 * registers the type. Fixed, in-package data: a type name from a message only selects an entry
 * of this table, never a path. Modules of higher layers are named here as data, not imported:
 * the wire layer does not depend on them (test/09-layers), they register into it.
 */
const kHandleModules: Readonly<Record<string, string>> = Object.freeze({
  __proto__: null,
  SharedMemory: 'shared-memory/shared-memory',
  Mutex: 'lock/mutex',
  RwLock: 'rwlock/rw-lock',
  ShmQueue: 'queue/queue',
  SharedValue: 'shared/shared-value',
  SharedArray: 'shared/shared-array',
  Lockable: 'lockable/lockable',
  ChannelWriter: 'channel/handles',
  ChannelReader: 'channel/handles',
} as unknown as Record<string, string>);

/** The reviver of `type`, loading its module from kHandleModules when not registered yet. */
function reviverOf(type: string): Reviver | undefined {
  let revive = revivers.get(type);
  if (revive !== undefined || !Object.prototype.hasOwnProperty.call(kHandleModules, type)) return revive;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy, from the fixed table above
  require(path.join(__dirname, '..', kHandleModules[type]));
  revive = revivers.get(type);
  return revive;
}

/**
 * Brand of handle classes: their prototypes carry the handle type under this symbol (registry
 * symbol, so a second copy of the package recognises them too). Only instances of a registered
 * handle class are handles: an object of any other class whose `toJSON()` happens to return
 * `{ $shmsync, name }` (a wrapper of user data, e.g. a document or immutable collection holding
 * a request body) is data, never a reference.
 */
export const kHandleType: unique symbol = Symbol.for('shmsync.handleType') as never;

/**
 * Method key a revived handle may define to release ITS OWN hold when a borrower (pcall's child,
 * after a call) is done with it. Without it the borrower disposes the handle (Symbol.dispose),
 * which for most handles is the same; a channel writer's dispose closes the channel for every
 * endpoint, so it defines this as release() (registry symbol: works across package copies).
 */
export const kReleaseBorrowed: unique symbol = Symbol.for('shmsync.releaseBorrowed') as never;

/**
 * Registers how to reopen references of one handle type and, with `cls`, brands that class as a
 * handle class (called by each handle module, once, when it is loaded).
 */
export function registerHandleType(
  type: string,
  revive: Reviver,
  cls?: abstract new (...args: never[]) => unknown,
): void {
  revivers.set(type, revive);
  if (cls !== undefined) Object.defineProperty(cls.prototype, kHandleType, { value: type, configurable: true });
}

/** Whether `value` is an instance of a handle class (see {@link kHandleType}); never throws. */
export function isHandle(value: object): boolean {
  try {
    return typeof (value as { [kHandleType]?: unknown })[kHandleType] === 'string';
  } catch {
    return false; // a Proxy whose get trap throws: not one of ours
  }
}

export function isHandleRef(value: unknown): value is HandleRef {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as HandleRef).$shmsync === 'string' &&
    typeof (value as HandleRef).name === 'string'
  );
}

/** Reopens the handle a reference names (in this process or thread). */
export function reviveHandle<T = unknown>(ref: HandleRef): T {
  const revive = reviverOf(ref.$shmsync);
  if (revive === undefined) throw valueError('ref.$shmsync', 'a known shmsync handle type', ref.$shmsync);
  return revive(ref) as T;
}

/** A `JSON.parse` reviver that reopens every handle reference found in the text. */
export function handleReviver(_key: string, value: unknown): unknown {
  return isHandleRef(value) && reviverOf(value.$shmsync) !== undefined ? reviveHandle(value) : value;
}
