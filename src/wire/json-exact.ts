/**
 * Whether JSON carries a value exactly as structured clone (`v8.serialize`/`v8.deserialize`)
 * would: `JSON.parse(JSON.stringify(v))` is then indistinguishable from
 * `v8.deserialize(v8.serialize(v))` - same types, prototypes, keys, key order and values - and
 * JSON.stringify runs no user code (no getter, toJSON or Proxy trap) that structured clone would
 * not run. Used by the queue's 'structured' codec (codec.ts) and pcall's payloads
 * (pcall/payload-codec.ts) to take the several times cheaper JSON path for the small values of
 * typical messages. Pure JS, any thread or process.
 *
 * Accepted: strings, booleans, null, finite numbers other than -0, and - each reached once (no
 * shared reference, no cycle: JSON would duplicate or refuse them) - arrays whose prototype is
 * Array.prototype with only own data elements and no holes or extra properties, and objects whose
 * prototype is Object.prototype with only own data properties, none named `__proto__` or
 * `toJSON`, and that are no exotic or host object (see `exotic`). Everything else (undefined,
 * BigInt, symbols, functions, Date, Map, typed arrays, class instances, null-prototype objects,
 * Proxies, ...) is refused, and the caller takes v8.
 *
 * The walk is bounded: at most kJsonExactValues values and kJsonExactChars UTF-16 units of
 * strings and keys; a larger value is refused early (v8 serialises it, as before), so a huge
 * message costs at most a bounded walk more than it did.
 */
import { types } from 'node:util';

/** Most values (primitives, objects, arrays) one check visits before refusing. */
export const kJsonExactValues = 256;
/** Most UTF-16 units of strings and keys one check accepts (bounds the JSON text to ~6x this). */
export const kJsonExactChars = 16 * 1024;

const objectToString = Object.prototype.toString;
/** process.env, read once (each read of the property costs a native call). */
const processEnv: object = process.env;

/** Walk state of one check. */
interface Walk {
  values: number;
  chars: number;
  readonly seen: Set<object>;
}

/**
 * Whether an object whose prototype is Object.prototype is not an ordinary object (it has the
 * internal slots of another type, so structured clone copies it as that type or refuses it):
 * an `arguments` object, a Date, RegExp, Error or boxed primitive (their builtin tag),
 * a typed array or DataView, or `process.env` (a host object v8 refuses). The tag is read only
 * when no `Symbol.toStringTag` is reachable, so no user getter runs.
 *
 * Not detected (documented in docs/concepts/queue.md): an object of another built-in or host
 * type - Map, Set, Promise, ArrayBuffer, a boxed BigInt, a generator... - whose prototype was
 * explicitly replaced by Object.prototype (`Object.setPrototypeOf(new Map(), Object.prototype)`):
 * JSON carries its own enumerable properties, where structured clone would copy it as its real
 * type or refuse it. Telling those apart needs a dozen native checks per object.
 */
function exotic(value: object): boolean {
  if (ArrayBuffer.isView(value) || value === processEnv) return true;
  if (Symbol.toStringTag in value) return true;
  return objectToString.call(value) !== '[object Object]';
}

/**
 * JSON.stringify calls a toJSON it finds anywhere (own, non-enumerable or inherited). Asked only
 * once the prototype is known to be Array.prototype or Object.prototype, so the lookup meets no
 * Proxy (a prototype chain may hold one, whose `has` trap would run).
 */
function hasToJSON(value: object): boolean {
  return 'toJSON' in value;
}

function exact(value: unknown, walk: Walk): boolean {
  if (--walk.values < 0) return false;
  switch (typeof value) {
    case 'string':
      return (walk.chars -= value.length) >= 0;
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object': {
      if (value === null) return true;
      if (walk.seen.has(value)) return false;
      walk.seen.add(value);
      // First: every later check could run a trap of a Proxy (structured clone refuses them).
      if (types.isProxy(value)) return false;
      if (Array.isArray(value)) {
        if (Object.getPrototypeOf(value) !== Array.prototype || hasToJSON(value)) return false;
        const n = value.length;
        if (n > walk.values) return false;
        // Holes, or extra enumerable properties (JSON would drop them).
        if (Object.keys(value).length !== n) return false;
        for (let i = 0; i < n; i += 1) {
          // An accessor element: JSON.stringify would call it a second time (it may answer
          // differently); structured clone reads it once. Never called here.
          const d = Object.getOwnPropertyDescriptor(value, i);
          if (d === undefined || d.get !== undefined || d.set !== undefined) return false;
          if (!exact(d.value, walk)) return false;
        }
        return true;
      }
      if (Object.getPrototypeOf(value) !== Object.prototype || hasToJSON(value) || exotic(value)) return false;
      for (const k in value) {
        if (k === '__proto__') return false;
        if ((walk.chars -= k.length) < 0) return false;
        // Own data properties only: an enumerable inherited key, or a getter (JSON.stringify would
        // call it a second time, and may get another value; structured clone reads it once).
        const d = Object.getOwnPropertyDescriptor(value, k);
        if (d === undefined || d.get !== undefined || d.set !== undefined) return false;
        if (!exact(d.value, walk)) return false;
      }
      return true;
    }
    default:
      return false; // undefined, bigint, symbol, function
  }
}

/** Whether JSON round-trips `value` exactly as structured clone would (see the file comment). */
export function jsonExact(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
      return value.length <= kJsonExactChars;
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object':
      return value === null || exact(value, { values: kJsonExactValues, chars: kJsonExactChars, seen: new Set() });
    default:
      return false;
  }
}
