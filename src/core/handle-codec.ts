/**
 * Handles (SharedMemory, Mutex, queues, shared values, Lockables) inside values that travel by
 * v8 structured clone (pcall arguments and results, the queue's 'structured' codec). Structured
 * clone would copy a handle's own fields and lose its mapping; so before serialising, every
 * handle (an object whose `toJSON()` returns a `{ $shmsync, name }` reference) is replaced by a
 * marker holding that reference, and after deserialising every marker is reopened with
 * `reviveHandle` (handle-ref.ts). A reference may itself hold handles (a Lockable subclass that
 * returns `{ ...super.toJSON(), count: this.count }`): they are encoded and reopened first.
 *
 * Runs on either side of a process or thread boundary. Handles are found in plain objects,
 * arrays, Maps and Sets (not inside class instances). Values without handles are returned
 * unchanged (no copy). Reviver registration is the caller's concern (handle modules register
 * themselves when loaded; pcall children load the whole package first).
 */
import { types } from 'node:util';
import { isHandleRef, reviveHandle, type HandleRef } from './handle-ref';

/** Key of the marker object that stands for a handle on the wire. */
export const kHandleMarker = '$shmsync:handle';

interface Marker {
  readonly [kHandleMarker]: HandleRef;
}

function isWalkable(value: object): boolean {
  if (Array.isArray(value) || value instanceof Map || value instanceof Set) return true;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** The reference of a handle, or undefined for any other value. */
function refOf(value: object): HandleRef | undefined {
  if (isWalkable(value) || types.isDate(value) || ArrayBuffer.isView(value)) return undefined;
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON !== 'function') return undefined;
  const ref: unknown = toJSON.call(value);
  return isHandleRef(ref) ? ref : undefined;
}

function isMarker(value: object): value is Marker {
  return Object.prototype.hasOwnProperty.call(value, kHandleMarker) && isHandleRef((value as Marker)[kHandleMarker]);
}

function children(value: object): Iterable<unknown> {
  if (value instanceof Map) return [...value.keys(), ...value.values()];
  if (value instanceof Set) return value.values();
  return Object.values(value);
}

/** True when `value` contains a node matching `test` (walks plain containers, cycle-safe). */
function contains(value: unknown, test: (v: object) => boolean, seen = new Set<object>()): boolean {
  if (typeof value !== 'object' || value === null || seen.has(value)) return false;
  seen.add(value);
  if (test(value)) return true;
  if (!isWalkable(value)) return false;
  for (const child of children(value)) if (contains(child, test, seen)) return true;
  return false;
}

const kKeep = Symbol('keep');

/**
 * Deep copy of the plain containers of `value`; every object is first offered to `replace`, which
 * returns its substitute or `kKeep`. Other objects are shared with the original, not copied.
 */
function copyWith(value: unknown, replace: (v: object) => unknown, memo: Map<object, unknown>): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (memo.has(value)) return memo.get(value);
  const replaced = replace(value);
  if (replaced !== kKeep || !isWalkable(value)) {
    const out = replaced === kKeep ? value : replaced;
    memo.set(value, out);
    return out;
  }
  if (value instanceof Map) {
    const out = new Map();
    memo.set(value, out);
    for (const [k, v] of value) out.set(copyWith(k, replace, memo), copyWith(v, replace, memo));
    return out;
  }
  if (value instanceof Set) {
    const out = new Set();
    memo.set(value, out);
    for (const v of value) out.add(copyWith(v, replace, memo));
    return out;
  }
  const out: Record<string, unknown> = Array.isArray(value) ? (new Array(value.length) as never) : Object.create(Object.getPrototypeOf(value));
  memo.set(value, out);
  for (const [k, v] of Object.entries(value)) out[k] = copyWith(v, replace, memo);
  return out;
}

/**
 * Replaces every handle in `value` by a marker (sending side, either process). Each handle's
 * `toJSON()` runs once: for an attached-lifetime object it records one hand-off (a lease the
 * receiver's open consumes, src/core/lifetime.ts).
 */
export function encodeHandles(value: unknown): unknown {
  const refs = new Map<object, HandleRef | undefined>();
  const refOnce = (v: object): HandleRef | undefined => {
    if (!refs.has(v)) refs.set(v, refOf(v));
    return refs.get(v);
  };
  if (!contains(value, (v) => refOnce(v) !== undefined)) return value;
  return copyWith(value, (v) => {
    const ref = refOnce(v);
    return ref === undefined ? kKeep : { [kHandleMarker]: encodeHandles(ref) };
  }, new Map());
}

/** Whether `value` holds any handle marker (cheap pre-check before decoding). */
export function hasHandleMarkers(value: unknown): boolean {
  return contains(value, (v) => isMarker(v));
}

/**
 * Reopens every marker in `value` (receiving side, either process). Each reopened handle is
 * pushed onto `opened` so the caller can close it when the call is over.
 */
export function decodeHandles(value: unknown, opened: unknown[] = []): unknown {
  if (!contains(value, (v) => isMarker(v))) return value;
  return copyWith(value, (v) => {
    if (!isMarker(v)) return kKeep;
    const handle = reviveHandle(decodeHandles(v[kHandleMarker], opened) as HandleRef);
    opened.push(handle);
    return handle;
  }, new Map());
}
