/**
 * Handles (SharedMemory, Mutex, queues, shared values, Lockables) inside values that cross a
 * process or thread boundary: pcall arguments and results, the queue's 'structured' and 'json'
 * codecs, and `encodeHandles`/`decodeHandles` for any other transport (child.send, postMessage).
 *
 * Handle references travel **out of band**: the encoder replaces every handle (an object that is
 * not a plain container and whose `toJSON()` returns a `{ $shmsync, name }` reference) by a
 * placeholder and lists it in a side table - its reference and the paths where it sat. The
 * receiver reopens exactly the handles of that table. User data is never inspected for
 * references, so a plain `{ $shmsync: 'Mutex', name: 'x' }` written by anyone arrives as the same
 * plain object, whatever the codec. Only the encoder, which saw a live handle, can mark one.
 *
 * A reference may itself hold handles (a Lockable subclass that returns
 * `{ ...super.toJSON(), stock: this.stock }`): its table entry is an envelope of its own.
 *
 * Runs on either side of a boundary. Handles are found in plain objects, arrays, Maps and Sets
 * (not inside instances of other classes). The receiving side treats the table as hostile input
 * (it may come from shared memory): every path is checked against the decoded value, never
 * followed through inherited properties, and never sets a prototype. Reviver registration is the
 * caller's concern (handle modules register themselves when loaded; pcall children load
 * those modules first).
 */
import { CodecError } from '../errors';
import { oneLeasePerHandle } from '../addon/lifetime';
import { isHandle, isHandleRef, reviveHandle, type HandleRef } from './handle-ref';

/**
 * One step from a container to a child: an own key of an object or an index of an array; the
 * `i`-th entry of a Map (its value, or its key with `key: true`); the `i`-th item of a Set.
 */
export type HandleStep = string | number | { readonly map: number; readonly key?: true } | { readonly set: number };

/** One handle of an envelope: its reference (an envelope itself) and every place it occupies. */
export interface HandleEntry {
  readonly ref: HandleEnvelope;
  readonly at: ReadonlyArray<ReadonlyArray<HandleStep>>;
}

/**
 * A value with its handles taken out: `value` holds a placeholder wherever `handles` says a
 * handle sits. `handles` is empty when the value held none (then `value` is the original).
 */
export interface HandleEnvelope {
  readonly value: unknown;
  readonly handles: readonly HandleEntry[];
}

function isWalkable(value: object): boolean {
  if (Array.isArray(value) || value instanceof Map || value instanceof Set) return true;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Whether `value` is a handle: an instance of a registered handle class (handle-ref.ts,
 * `kHandleType`). Never decided by what `toJSON()` returns: a user class whose `toJSON()` returns
 * user data shaped like a reference stays data, and no other class's `toJSON()` is ever called.
 */
function mayBeHandle(value: object): boolean {
  return !isWalkable(value) && isHandle(value);
}

/** The reference of a handle, or undefined for any other value. */
function refOf(value: object): HandleRef | undefined {
  if (!mayBeHandle(value)) return undefined;
  const ref: unknown = (value as { toJSON(): unknown }).toJSON();
  return isHandleRef(ref) ? ref : undefined;
}

/** True when `value` contains a handle (walks plain containers, cycle-safe). */
function containsHandle(value: unknown, seen = new Set<object>()): boolean {
  if (typeof value !== 'object' || value === null || seen.has(value)) return false;
  seen.add(value);
  if (!isWalkable(value)) return mayBeHandle(value);
  const children =
    value instanceof Map
      ? [...value.keys(), ...value.values()]
      : value instanceof Set
        ? value.values()
        : Object.values(value);
  for (const child of children) if (containsHandle(child, seen)) return true;
  return false;
}

function defineOwn(target: object, key: string | number, value: unknown): void {
  // Never `target[key] = value`: a '__proto__' key would replace the prototype.
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A path while walking: each node links to its parent, so a step costs O(1), not a copy. */
interface PathNode {
  readonly up: PathNode | null;
  readonly step: HandleStep;
}

function pathOf(node: PathNode | null): HandleStep[] {
  const steps: HandleStep[] = [];
  for (let n = node; n !== null; n = n.up) steps.push(n.step);
  return steps.reverse();
}

/**
 * Sending side, either process: `value` with every handle taken out into the side table. Only
 * the plain containers on the way to a handle are copied; everything else is shared with the
 * original. Cost: one visit per container (paths are built only where a handle sits).
 */
export function encodeHandles(value: unknown): HandleEnvelope {
  return oneLeasePerHandle(() => encodeHandlesOnce(value));
}

function encodeHandlesOnce(value: unknown): HandleEnvelope {
  if (!containsHandle(value)) return { value, handles: [] };
  const entries = new Map<object, { ref: HandleEnvelope; at: HandleStep[][] }>();
  const memo = new Map<object, unknown>();
  const walk = (v: unknown, path: PathNode | null, slot: 'value' | 'key'): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    const ref = refOf(v);
    if (ref !== undefined) {
      let entry = entries.get(v);
      if (entry === undefined) {
        entry = { ref: encodeHandles(ref), at: [] };
        entries.set(v, entry);
      }
      entry.at.push(pathOf(path));
      // Set items and Map keys need distinct placeholders (two nulls would collapse into one).
      return slot === 'key' ? {} : null;
    }
    if (!isWalkable(v)) return v;
    if (memo.has(v)) return memo.get(v);
    // The copy is registered before the children are walked (cycles reach it); it is kept only
    // if some child changed. A child that reached the copy through a cycle counts as changed, so
    // an unused copy is never referenced.
    let changed = false;
    const put = (original: unknown, got: unknown): unknown => {
      if (got !== original) changed = true;
      return got;
    };
    let out: object;
    if (v instanceof Map) {
      const copy = new Map();
      memo.set(v, copy);
      let i = 0;
      for (const [k, x] of v) {
        copy.set(
          put(k, walk(k, { up: path, step: { map: i, key: true } }, 'key')),
          put(x, walk(x, { up: path, step: { map: i } }, 'value')),
        );
        i += 1;
      }
      out = copy;
    } else if (v instanceof Set) {
      const copy = new Set();
      memo.set(v, copy);
      let i = 0;
      for (const x of v) copy.add(put(x, walk(x, { up: path, step: { set: i++ } }, 'key')));
      out = copy;
    } else if (Array.isArray(v)) {
      const copy: unknown[] = new Array(v.length);
      memo.set(v, copy);
      for (let i = 0; i < v.length; i += 1) if (i in v) copy[i] = put(v[i], walk(v[i], { up: path, step: i }, 'value'));
      out = copy;
    } else {
      const copy = Object.create(Object.getPrototypeOf(v) as object | null) as object;
      memo.set(v, copy);
      for (const [k, x] of Object.entries(v)) {
        const got = put(x, walk(x, { up: path, step: k }, 'value'));
        // A plain store is much faster than defineProperty; only '__proto__' would set the prototype.
        if (k === '__proto__') defineOwn(copy, k, got);
        else (copy as Record<string, unknown>)[k] = got;
      }
      out = copy;
    }
    if (changed) return out;
    memo.set(v, v);
    return v;
  };
  const out = walk(value, null, 'value');
  // The receiver refuses more (decodeHandles): fail here, where the sender can see why.
  if (entries.size > kMaxHandlesPerMessage) {
    throw new CodecError(
      `a value may hold at most ${kMaxHandlesPerMessage} distinct handles; this one holds ${entries.size}`,
    );
  }
  return { value: out, handles: [...entries.values()] };
}

// ---------------------------------------------------------------------------------------------
// Receiving side.

/**
 * Bounds of one decoded table (it may come from shared memory, written by anyone). A message is
 * at most a queue's `maxMessageSize`, but structured clone keeps object identity, so one path
 * array listed a million times costs a few bytes: every table object must be a distinct object
 * (checked), which makes the work linear in the message size; these caps bound it further.
 */
export const kMaxHandlesPerMessage = 4096;
/** Total paths (places where handles sit) in one message. */
export const kMaxHandlePaths = 65536;
/** Nesting of references inside references (a Lockable subclass whose toJSON() holds handles). */
export const kMaxHandleNesting = 16;

function bad(why: string): CodecError {
  return new CodecError(`malformed handle table: ${why}`);
}

/** What one decode has spent, and the table objects it has seen (each may appear once). */
interface Budget {
  handles: number;
  paths: number;
  readonly seen: Set<object>;
}

/** `value` is a table object not seen before in this decode; throws otherwise. */
function fresh(value: object, budget: Budget): void {
  if (budget.seen.has(value)) throw bad('a table object appears twice (shared or cyclic table)');
  budget.seen.add(value);
}

/** The value of an own data property (never a getter, never an inherited key), or `none`. */
const none = Symbol('none');
function ownData(container: object, key: string | number): unknown {
  const d = Object.getOwnPropertyDescriptor(container, key);
  return d === undefined || !('value' in d) ? none : d.value;
}

function isIndex(step: unknown, length: number): step is number {
  return typeof step === 'number' && Number.isInteger(step) && step >= 0 && step < length;
}

/** An array position as the encoder writes it: a number, or its canonical string (JSON paths). */
function arrayIndex(step: unknown, length: number): number | undefined {
  const n = typeof step === 'string' && step !== '' && String(Number(step)) === step ? Number(step) : step;
  return isIndex(n, length) ? n : undefined;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Entries of Maps and items of Sets as arrays, computed once per container for one decode, so a
 * table with many paths through a large Map costs one copy of it, not one per path.
 */
type Listings = Map<object, unknown[]>;

function listing(container: Map<unknown, unknown> | Set<unknown>, listings: Listings): unknown[] {
  let list = listings.get(container);
  if (list === undefined) {
    list = [...container];
    listings.set(container, list);
  }
  return list;
}

/**
 * Checks that `step` fits `container` and returns the child there; throws CodecError if not.
 * Only the containers the encoder walks can be on a path: plain objects (own data properties),
 * arrays (indexes), Maps and Sets - never a typed array, a String object, a Date, an array's
 * `length` or any other object a placement could not write to (or would silently convert).
 */
function childAt(container: unknown, step: unknown, listings: Listings): unknown {
  if (typeof container !== 'object' || container === null) throw bad('a path leads through a non-object');
  if (container instanceof Map) {
    const s = step as { map?: unknown; key?: unknown };
    if (typeof step !== 'object' || step === null || !isIndex(s.map, container.size))
      throw bad('a Map step is out of range');
    const entry = listing(container, listings)[s.map] as [unknown, unknown];
    return s.key === true ? entry[0] : entry[1];
  }
  if (container instanceof Set) {
    const s = step as { set?: unknown };
    if (typeof step !== 'object' || step === null || !isIndex(s.set, container.size))
      throw bad('a Set step is out of range');
    return listing(container, listings)[s.set];
  }
  let child: unknown = none;
  if (Array.isArray(container)) {
    const i = arrayIndex(step, container.length);
    if (i !== undefined) child = ownData(container, i);
  } else if (isPlainObject(container)) {
    if (typeof step === 'string' || typeof step === 'number') child = ownData(container, step);
  } else {
    throw bad('a path leads through an object that is not a plain object, array, Map or Set');
  }
  if (child === none) throw bad('a path names no own element or property');
  return child;
}

/** Checks the shape of an envelope read from the wire. */
function asEnvelope(value: unknown): HandleEnvelope {
  if (
    typeof value !== 'object' ||
    value === null ||
    !('value' in value) ||
    !Array.isArray((value as HandleEnvelope).handles)
  ) {
    throw bad('not an envelope { value, handles }');
  }
  return value as HandleEnvelope;
}

/** Releases handles a failed decode opened (their mappings and descriptors), ignoring errors. */
function release(handles: unknown[]): void {
  for (const handle of handles) {
    try {
      (handle as { [Symbol.dispose]?: () => void })[Symbol.dispose]?.();
    } catch {
      // already released
    }
  }
}

/**
 * Receiving side, either process: the value of an envelope with its handles reopened (with
 * `reviveHandle`). Each reopened handle is pushed onto `opened` so the caller can close it when
 * it is done. Throws CodecError for a table that does not match its value, that shares or
 * repeats table objects, or that exceeds {@link kMaxHandlesPerMessage}, {@link kMaxHandlePaths}
 * or {@link kMaxHandleNesting}; the handles it had opened by then are released (and not left on
 * `opened`).
 *
 * Two phases: every path is followed and checked first (nothing is changed yet, so Map and Set
 * positions stay valid), then the handles are put in place, each Map and Set rebuilt once (in
 * place, keeping its order). Cost: the path steps plus one copy of each Map/Set on a path.
 */
export function decodeHandles(envelope: unknown, opened: unknown[] = []): unknown {
  const mark = opened.length;
  try {
    return decodeEnvelope(envelope, opened, { handles: 0, paths: 0, seen: new Set() }, 0);
  } catch (err) {
    release(opened.splice(mark));
    throw err;
  }
}

function decodeEnvelope(envelope: unknown, opened: unknown[], budget: Budget, depth: number): unknown {
  if (depth > kMaxHandleNesting) throw bad(`references nested deeper than ${kMaxHandleNesting}`);
  const env = asEnvelope(envelope);
  if (env.handles.length === 0) return env.value;
  fresh(env, budget);
  fresh(env.handles, budget);
  if (env.handles.length > kMaxHandlesPerMessage - budget.handles)
    throw bad(`more than ${kMaxHandlesPerMessage} handles`);
  let root = env.value;
  const listings: Listings = new Map();
  const placements = new Map<object, Array<[unknown, unknown]>>();
  // Indexed loop: a sparse `handles` stops at its first hole instead of walking its length.
  for (let e = 0; e < env.handles.length; e += 1) {
    const entry = env.handles[e] as unknown as HandleEntry;
    if (typeof entry !== 'object' || entry === null || !Array.isArray(entry.at))
      throw bad('an entry is not { ref, at }');
    fresh(entry, budget);
    fresh(entry.at, budget);
    budget.handles += 1;
    if (entry.at.length > kMaxHandlePaths - budget.paths) throw bad(`more than ${kMaxHandlePaths} handle paths`);
    budget.paths += entry.at.length;
    const ref = decodeEnvelope(entry.ref, opened, budget, depth + 1);
    if (!isHandleRef(ref)) throw bad('an entry does not hold a { $shmsync, name } reference');
    // Every path is checked before the handle is opened: a bad table opens nothing more.
    const targets: Array<[object, unknown] | null> = [];
    for (let k = 0; k < entry.at.length; k += 1) {
      const path: unknown = entry.at[k];
      if (!Array.isArray(path)) throw bad('a path is not an array');
      fresh(path, budget);
      if (path.length === 0) {
        targets.push(null);
        continue;
      }
      let container = env.value;
      for (let i = 0; i < path.length - 1; i += 1) container = childAt(container, path[i], listings);
      const step: unknown = path[path.length - 1];
      childAt(container, step, listings); // validates the last step
      targets.push([container as object, step]);
    }
    const handle = reviveHandle(ref);
    opened.push(handle);
    for (const target of targets) {
      if (target === null) {
        root = handle;
        continue;
      }
      const list = placements.get(target[0]) ?? [];
      list.push([target[1], handle]);
      placements.set(target[0], list);
    }
  }
  for (const [container, list] of placements) {
    if (container instanceof Map) {
      const entries = (listing(container, listings) as Array<[unknown, unknown]>).map(
        (e) => [e[0], e[1]] as [unknown, unknown],
      );
      for (const [step, handle] of list) {
        const s = step as { map: number; key?: true };
        entries[s.map][s.key === true ? 0 : 1] = handle;
      }
      container.clear();
      for (const [k, v] of entries) container.set(k, v);
    } else if (container instanceof Set) {
      const items = [...listing(container, listings)];
      for (const [step, handle] of list) items[(step as { set: number }).set] = handle;
      container.clear();
      for (const item of items) container.add(item);
    } else if (Array.isArray(container)) {
      for (const [step, handle] of list) defineOwn(container, arrayIndex(step, container.length) as number, handle);
    } else {
      for (const [step, handle] of list) defineOwn(container, step as string | number, handle);
    }
  }
  return root;
}

/** Whether an envelope carries any handle (cheap pre-check before decoding). */
export function envelopeHasHandles(envelope: unknown): boolean {
  return Array.isArray((envelope as HandleEnvelope | null)?.handles) && (envelope as HandleEnvelope).handles.length > 0;
}

// ---------------------------------------------------------------------------------------------
// JSON text (the queue's 'json' codec).

/**
 * First character of a JSON record that carries handles: `\x1e` + the JSON of an envelope.
 * `JSON.stringify` never produces it first, so a plain record can never be taken for one.
 */
export const kJsonEnvelopeMark = '\u001e';

/**
 * `JSON.stringify` with handles taken out (paths are the keys JSON writes, after every
 * `toJSON()`). Returns undefined where `JSON.stringify` does. Values without handles - including
 * user data that merely looks like a reference - give exactly `JSON.stringify(value)`.
 */
export function stringifyWithHandles(value: unknown): string | undefined {
  return oneLeasePerHandle(() => stringifyWithHandlesOnce(value));
}

function stringifyWithHandlesOnce(value: unknown): string | undefined {
  const text = JSON.stringify(value);
  // Every handle's reference has a "$shmsync" key: no such text, no handle (the common case).
  if (text === undefined || !text.includes('"$shmsync"')) return text;
  const parts = jsonParts(value);
  if (parts.handles.length === 0) return text;
  return `${kJsonEnvelopeMark}{"handles":${JSON.stringify(parts.handles)},"value":${parts.text}}`;
}

function jsonParts(value: unknown): { text: string; handles: HandleEntry[] } {
  const entries = new Map<object, { ref: HandleEnvelope; at: HandleStep[][] }>();
  // Parent-linked paths (one node per value, O(1) each): a full path is built only for a handle.
  const paths = new Map<object, PathNode | null>();
  let first = true;
  const text = JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown): unknown {
    const path: PathNode | null = first ? null : { up: paths.get(this) ?? null, step: key };
    first = false;
    const original = this[key];
    // A handle: an instance whose toJSON() produced this reference (plain data never gets here).
    if (
      original !== v &&
      typeof original === 'object' &&
      original !== null &&
      mayBeHandle(original) &&
      isHandleRef(v)
    ) {
      let entry = entries.get(original);
      if (entry === undefined) {
        const inner = jsonParts(v);
        entry = { ref: { value: JSON.parse(inner.text) as unknown, handles: inner.handles }, at: [] };
        entries.set(original, entry);
      }
      entry.at.push(pathOf(path));
      return null;
    }
    if (typeof v === 'object' && v !== null) paths.set(v, path);
    return v;
  }) as string;
  return { text, handles: [...entries.values()] };
}

/** Parses a JSON record written by {@link stringifyWithHandles}, reopening its handles. */
export function parseWithHandles(text: string): unknown {
  if (text.charCodeAt(0) !== 0x1e) return JSON.parse(text);
  return decodeHandles(JSON.parse(text.slice(1)));
}
