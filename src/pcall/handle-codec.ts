/**
 * pcall's use of the handle codec (src/wire/handle-codec.ts): arguments and results travel as
 * envelopes `{ value, handles }` with the handles out of band, so user data that looks like a
 * reference is never reopened.
 *
 * Lazy on purpose: the wire codec depends on the native addon (handle leases), and loading the
 * addon costs a child ~17 ms of CPU at start-up (measured, issue 10), most of a cold pcall's own
 * overhead. A value without a handle - the common case - is encoded and decoded here without it;
 * the wire codec is loaded the first time an envelope actually carries a handle, and the module
 * of each handle type the first time a reference of that type is revived (wire/handle-ref.ts).
 * Either process runs this.
 */
import type { HandleEnvelope } from '../wire/handle-codec';
import { isHandle } from '../wire/handle-ref';

export type { HandleEnvelope };

type WireCodec = typeof import('../wire/handle-codec');
let wire: WireCodec | undefined;

function wireCodec(): WireCodec {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy: see the file comment
  wire ??= require('../wire/handle-codec') as WireCodec;
  return wire;
}

/**
 * True when `value` holds a handle where the wire codec looks for one (plain containers: arrays,
 * Maps, Sets, objects of prototype Object.prototype or null; anything else is a leaf checked with
 * isHandle). Cycle-safe. Hot path: pcall and pool workers run it over every argument and result,
 * so plain data costs little - primitives are skipped without a call, the prototype is read once,
 * and a container enters `seen` only once it has a child container (a container whose children
 * are all primitives cannot be on a cycle; every container of a cycle has a child container, so
 * the walk still ends). Measured on 1 000 `{ value, pid }` objects: 0.21-0.24 -> 0.08-0.10 us per item,
 * 1 000 numbers: 11-15 -> 4-7 ns per item (same run, loaded 2-core machine).
 */
function containsHandle(value: unknown, seen: Set<object>): boolean {
  if (typeof value !== 'object' || value === null || seen.has(value)) return false;
  if (Array.isArray(value)) {
    let marked = false;
    for (let i = 0; i < value.length; i += 1) {
      const v: unknown = value[i];
      if (typeof v !== 'object' || v === null) continue;
      if (!marked) {
        seen.add(value);
        marked = true;
      }
      if (containsHandle(v, seen)) return true;
    }
    return false;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    let marked = false;
    for (const k in value) {
      if (!Object.prototype.hasOwnProperty.call(value, k)) continue;
      const v = (value as Record<string, unknown>)[k];
      if (typeof v !== 'object' || v === null) continue;
      if (!marked) {
        seen.add(value);
        marked = true;
      }
      if (containsHandle(v, seen)) return true;
    }
    return false;
  }
  seen.add(value);
  if (value instanceof Map) {
    for (const [k, v] of value) if (containsHandle(k, seen) || containsHandle(v, seen)) return true;
    return false;
  }
  if (value instanceof Set) {
    for (const v of value) if (containsHandle(v, seen)) return true;
    return false;
  }
  return isHandle(value);
}

/** The envelope of `value`: handles out of band (wire codec), or `{ value, handles: [] }` without one. */
export function encodeHandles(value: unknown): HandleEnvelope {
  if (typeof value !== 'object' || value === null || !containsHandle(value, new Set())) return { value, handles: [] };
  return wireCodec().encodeHandles(value);
}

/** The value of an envelope with its handles reopened, each pushed onto `opened` (to close). */
export function decodeHandles(envelope: unknown, opened: unknown[] = []): unknown {
  const env = envelope as { value?: unknown; handles?: unknown } | null;
  if (
    typeof env === 'object' &&
    env !== null &&
    Object.getPrototypeOf(env) === Object.prototype &&
    Array.isArray(env.handles) &&
    env.handles.length === 0 &&
    Object.prototype.hasOwnProperty.call(env, 'value')
  ) {
    return env.value;
  }
  // Each handle type's module is loaded on demand by reviveHandle (wire/handle-ref.ts kHandleModules).
  return wireCodec().decodeHandles(envelope, opened);
}
