/**
 * The bytes of a call's work and result. Values travel with v8 structured-clone semantics
 * (`v8.serialize`); a value that JSON carries exactly - finite numbers (not -0), strings,
 * booleans, null, dense plain arrays and plain objects, no shared or cyclic references, small -
 * travels as JSON text instead, which is several times cheaper to encode and decode for the small
 * values of a typical call (issue 10: per-call cost of the warm pool). The receiver tells them
 * apart by the first byte: v8's serialization always starts with its version tag 0xFF; JSON
 * payloads start with kJsonTag. Either process runs this.
 */
import { types } from 'node:util';
import * as v8 from 'node:v8';

/** First byte of a JSON payload (never the first byte of v8.serialize output, 0xFF). */
const kJsonTag = 0x01;
/** At most this many values are checked for JSON fidelity; a larger value takes v8. */
const kJsonBudget = 256;

/**
 * Whether JSON round-trips `value` exactly as structured clone would (see the file comment).
 * `seen` guards against shared references (JSON would duplicate them) and cycles; `budget`
 * bounds the walk.
 */
function jsonExact(value: unknown, seen: Set<object>, budget: { left: number }): boolean {
  if (--budget.left < 0) return false;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object': {
      if (value === null) return true;
      // A Proxy passes the prototype checks, but structured clone refuses it (DataCloneError):
      // v8.serialize must say so, not JSON carry it as a plain object.
      if (types.isProxy(value)) return false;
      if (seen.has(value)) return false;
      seen.add(value);
      if (Array.isArray(value)) {
        if (Object.getPrototypeOf(value) !== Array.prototype) return false;
        const n = value.length;
        if (n > budget.left) return false;
        let keys = 0;
        for (const k in value) if (Object.prototype.hasOwnProperty.call(value, k)) keys += 1;
        if (keys !== n) return false; // holes, or extra properties JSON would drop
        for (let i = 0; i < n; i += 1) if (!jsonExact(value[i], seen, budget)) return false;
        return true;
      }
      if (Object.getPrototypeOf(value) !== Object.prototype) return false;
      for (const k in value) {
        if (k === '__proto__' || k === 'toJSON') return false;
        // Own data properties only: an enumerable inherited key, or a getter (JSON.stringify would
        // call it a second time, and may get another value; structured clone reads it once).
        const d = Object.getOwnPropertyDescriptor(value, k);
        if (d === undefined || d.get !== undefined || d.set !== undefined) return false;
        if (!jsonExact(d.value, seen, budget)) return false;
      }
      return true;
    }
    default:
      return false; // undefined, bigint, symbol, function
  }
}

/** Encodes `value`: JSON when exact, else v8.serialize (throws a DataCloneError for uncloneables). */
export function encodePayload(value: unknown): Buffer {
  if (jsonExact(value, new Set(), { left: kJsonBudget })) {
    const text = JSON.stringify(value);
    const bytes = Buffer.allocUnsafe(1 + Buffer.byteLength(text));
    bytes[0] = kJsonTag;
    bytes.write(text, 1);
    return bytes;
  }
  return v8.serialize(value);
}

/** Decodes a payload of encodePayload(); throws on bytes that are neither form. */
export function decodePayload(bytes: Uint8Array): unknown {
  if (bytes.byteLength > 0 && bytes[0] === kJsonTag) {
    const view = Buffer.from(bytes.buffer, bytes.byteOffset + 1, bytes.byteLength - 1);
    return JSON.parse(view.toString('utf8'));
  }
  return v8.deserialize(bytes);
}
