/**
 * Message codecs for ShmQueue. Each record carries the codec it was written with (its type
 * byte), so consumers decode what producers wrote even when their handles chose differently;
 * custom codecs must agree on both sides.
 *
 * Handles (SharedMemory, Mutex, ShmQueue, shared values, Lockable locks) travel as references
 * (`toJSON()` -> `{ $shmsync, name }`) and are reopened by the receiver.
 */
import * as v8 from 'node:v8';
import { CodecError } from '../errors';
import { handleReviver, isHandleRef, reviveHandle } from './handle-ref';

export const enum RecordType {
  Raw = 0,
  String = 1,
  Json = 2,
  Structured = 3,
  Custom = 4,
}

export type CodecName = 'raw' | 'string' | 'json' | 'structured';

/** A user codec: both ends of a queue must use the same one. */
export interface Codec<T = unknown> {
  encode(value: T): Uint8Array;
  decode(bytes: Buffer): T;
}

/** Replaces handle instances by their references, deeply (for the structured codec). */
export function toWire(value: unknown, depth = 0): unknown {
  if (typeof value !== 'object' || value === null || depth > 64) return value;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Date ||
    value instanceof RegExp || value instanceof Error) {
    return value;
  }
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') {
    const ref = toJSON.call(value);
    if (isHandleRef(ref)) return ref;
  }
  if (Array.isArray(value)) {
    let out: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const w = toWire(value[i], depth + 1);
      if (w !== value[i]) (out ??= value.slice())[i] = w;
    }
    return out ?? value;
  }
  if (value instanceof Map) {
    let changed = false;
    const out = new Map();
    for (const [k, v] of value) {
      const w = toWire(v, depth + 1);
      changed ||= w !== v;
      out.set(k, w);
    }
    return changed ? out : value;
  }
  if (value instanceof Set) return value;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  let out: Record<string, unknown> | null = null;
  for (const key of Object.keys(value)) {
    const v = (value as Record<string, unknown>)[key];
    const w = toWire(v, depth + 1);
    if (w !== v) (out ??= { ...(value as Record<string, unknown>) })[key] = w;
  }
  return out ?? value;
}

/** Reopens handle references found in a decoded value, deeply. */
export function fromWire(value: unknown, depth = 0): unknown {
  if (typeof value !== 'object' || value === null || depth > 64) return value;
  if (isHandleRef(value)) return reviveHandle(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = fromWire(value[i], depth + 1);
    return value;
  }
  if (value instanceof Map) {
    for (const [k, v] of value) value.set(k, fromWire(v, depth + 1));
    return value;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  for (const key of Object.keys(value)) {
    (value as Record<string, unknown>)[key] = fromWire((value as Record<string, unknown>)[key], depth + 1);
  }
  return value;
}

/** Decodes one record payload according to the type it was written with. */
export function decodeRecord(type: number, buf: Buffer, start: number, end: number, custom: Codec | null): unknown {
  switch (type) {
    case RecordType.Raw: {
      const out = Buffer.allocUnsafe(end - start);
      buf.copy(out, 0, start, end);
      return out;
    }
    case RecordType.String:
      return buf.toString('utf8', start, end);
    case RecordType.Json: {
      const text = buf.toString('utf8', start, end);
      return text.includes('"$shmsync"') ? JSON.parse(text, handleReviver) : JSON.parse(text);
    }
    case RecordType.Structured:
      return fromWire(v8.deserialize(buf.subarray(start, end)));
    case RecordType.Custom:
      if (custom === null) throw new CodecError('a message was written with a custom codec; open the queue with the same codec to read it');
      return custom.decode(Buffer.from(buf.subarray(start, end)));
    default:
      throw new CodecError(`unknown record type ${type}`);
  }
}
