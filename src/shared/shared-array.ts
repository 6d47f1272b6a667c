/**
 * SharedArray: a typed array over shared memory (the analogue of Python's
 * `multiprocessing.Array`), plus the segment format it shares with SharedValue.
 *
 * Segment layout (little-endian; the segment is a raw SharedMemory):
 *
 *   0      4      8      12     16      20             256
 *   | magic| type | flags|length|lockLen| lock name ... | data (length x element size) ...
 *
 * flags bit 0: the lock was created with the object (`{ lock: true }`), so unlink removes it.
 * The creator stores `magic` last (Atomics.store); openers wait a bounded time for it, so
 * nobody ever sees a half-initialised header or initial values.
 */
import { HeaderFlag, HeaderWord, kHeaderSize, kHeaderWords, kLockNameMax, kLockNameOffset } from './header';
import { ClosedError, CorruptError, KindMismatchError, NotFoundError, SizeMismatchError } from '../errors';
import {
  optionsObject,
  rangeError,
  rejectUnknownOptions,
  typeError,
  validateInteger,
  validateOneOf,
} from '../validate';
import { registerHandleType, type HandleRef } from '../wire/handle-ref';
import { Mutex } from '../lock/mutex';
import { uniqueName } from '../addon/names';
import type { Lifetime } from '../addon/lifetime';
import { kMaxSharedMemorySize, permissionMode, SharedMemory, type CreateMode } from '../shared-memory/shared-memory';

/** Options every shared-state handle accepts. */
export interface SegmentOptions {
  /**
   * For a segment this call creates (and its `{ lock: true }` mutex): `'attached'` (default
   * without a name) or `'persistent'` (default with a name). See naming-and-lifetime.md.
   */
  lifetime?: Lifetime;
  /** `true`: create a Mutex with the object (named `<name>.lock`); or use the given Mutex; `false`: do not open the stored one. */
  lock?: boolean | Mutex;
  /** Default: `'openOrCreate'` when `type` is given, else `'open'`; `'create'` without a name. */
  create?: CreateMode;
  /** Permission bits for a created segment (default `0o600`). */
  mode?: number;
}

/** @internal An opened shared-state segment. */
export interface Segment {
  readonly name: string;
  readonly shm: SharedMemory;
  readonly typeCode: number;
  readonly length: number;
  readonly data: Uint8Array;
  readonly lock: Mutex | null;
  readonly lockName: string | null;
  readonly ownsLockHandle: boolean;
  readonly lockCreatedWithObject: boolean;
}

const kInitWaitMs = 1000;
const kCreateModes: readonly CreateMode[] = ['open', 'create', 'openOrCreate'];
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** @internal Opens or creates a shared-state segment (SharedValue, SharedArray). */
export function openSegment(
  kind: string,
  magic: number,
  name: string | undefined,
  opts: Record<string, unknown>,
  spec: { typeCode?: number; length?: number; elementSize: (code: number) => number; init: (data: Uint8Array) => void },
): Segment {
  if (opts.create !== undefined) validateOneOf('options.create', opts.create, kCreateModes);
  const perm = permissionMode(opts.mode);
  const lockOpt = opts.lock;
  if (lockOpt !== undefined && typeof lockOpt !== 'boolean' && !(lockOpt instanceof Mutex)) {
    throw typeError('options.lock', 'a boolean or a Mutex', lockOpt);
  }
  const create =
    (opts.create as CreateMode | undefined) ??
    (name === undefined ? 'create' : spec.typeCode === undefined ? 'open' : 'openOrCreate');
  if (create !== 'open' && spec.typeCode === undefined)
    throw typeError('options.type', `given to create a ${kind}`, undefined);
  const logical = name ?? uniqueName(kind === 'SharedValue' ? 'value' : 'array');
  const size = create === 'open' ? undefined : kHeaderSize + spec.length! * spec.elementSize(spec.typeCode!);
  // The generated name of an anonymous object is still anonymous: attached unless told otherwise.
  const lifetime = (opts.lifetime as Lifetime | undefined) ?? (name === undefined ? 'attached' : undefined);
  const shm = new SharedMemory(logical, { size, create, mode: perm, lifetime });
  try {
    if (shm.size < kHeaderSize)
      throw new KindMismatchError(`"${logical}" is not a ${kind} segment (${shm.size} bytes)`);
    const u32 = new Uint32Array(shm.buffer.buffer, 0, kHeaderWords);
    if (shm.created) return initialise(shm, u32, magic, spec, lockOpt, perm);
    return attach(kind, shm, u32, magic, spec, lockOpt);
  } catch (err) {
    if (shm.created) shm.unlink();
    shm.close();
    throw err;
  }
}

function initialise(
  shm: SharedMemory,
  u32: Uint32Array,
  magic: number,
  spec: { typeCode?: number; length?: number; init: (data: Uint8Array) => void },
  lockOpt: unknown,
  perm: number,
): Segment {
  let lock: Mutex | null = null;
  let lockName: string | null = null;
  if (lockOpt instanceof Mutex) lockName = lockOpt.name;
  else if (lockOpt === true) lockName = `${shm.name}.lock`;
  if (lockName !== null) {
    const bytes = Buffer.from(lockName, 'utf8');
    if (bytes.length > kLockNameMax)
      throw rangeError('options.lock.name', `at most ${kLockNameMax} bytes long`, lockName);
    shm.buffer.set(bytes, kLockNameOffset);
    u32[HeaderWord.LockNameLength] = bytes.length;
    lock = lockOpt instanceof Mutex ? lockOpt : new Mutex(lockName, { mode: perm, lifetime: shm.lifetime });
  }
  u32[HeaderWord.TypeCode] = spec.typeCode!;
  u32[HeaderWord.Flags] = lockOpt === true ? HeaderFlag.OwnsLock : 0;
  u32[HeaderWord.Length] = spec.length!;
  const data = dataView(shm, spec.length!);
  spec.init(data);
  Atomics.store(u32, HeaderWord.Magic, magic); // publish: everything above happens-before an opener's load
  return segment(shm, { typeCode: spec.typeCode!, length: spec.length! }, data, lock, lockName, lockOpt === true);
}

/**
 * Opens an existing segment. The header is shared memory that any process with write access may
 * rewrite at any time: each field is loaded exactly once into a local, validated, and only those
 * locals are used afterwards (never a second read of the same index).
 */
function attach(
  kind: string,
  shm: SharedMemory,
  u32: Uint32Array,
  magic: number,
  spec: { typeCode?: number; length?: number; elementSize: (code: number) => number },
  lockOpt: unknown,
): Segment {
  const deadline = Date.now() + kInitWaitMs;
  let found = Atomics.load(u32, HeaderWord.Magic);
  while (found === 0 && Date.now() < deadline) {
    Atomics.wait(sleeper, 0, 0, 1); // the creator is between create and publish
    found = Atomics.load(u32, HeaderWord.Magic);
  }
  if (found === 0) throw new CorruptError(`${kind} "${shm.name}" was never initialised (its creator died?)`);
  if (found !== magic) throw new KindMismatchError(`"${shm.name}" is not a ${kind} segment`);
  const typeCode = Atomics.load(u32, HeaderWord.TypeCode);
  const flags = Atomics.load(u32, HeaderWord.Flags);
  const length = Atomics.load(u32, HeaderWord.Length);
  const lockLength = Atomics.load(u32, HeaderWord.LockNameLength);
  if (spec.typeCode !== undefined && typeCode !== spec.typeCode) {
    throw new KindMismatchError(`${kind} "${shm.name}" holds another element type (code ${typeCode})`);
  }
  if (spec.length !== undefined && length !== spec.length) {
    throw new SizeMismatchError(`${kind} "${shm.name}" has length ${length}, not ${spec.length}`);
  }
  const bytes = length * spec.elementSize(typeCode);
  if (lockLength > kLockNameMax || kHeaderSize + bytes > shm.size) {
    throw new CorruptError(`${kind} "${shm.name}" has a corrupt header`);
  }
  const lockName =
    lockLength === 0
      ? null
      : Buffer.from(shm.buffer.subarray(kLockNameOffset, kLockNameOffset + lockLength)).toString('utf8');
  if (lockOpt === true && lockName === null) {
    throw typeError('options.lock', `omitted: ${kind} "${shm.name}" was created without a lock`, true);
  }
  let lock: Mutex | null = null;
  if (lockOpt instanceof Mutex) lock = lockOpt;
  else if (lockOpt !== false && lockName !== null) lock = new Mutex(lockName, { create: 'open' });
  const data = dataView(shm, bytes);
  return segment(
    shm,
    { typeCode, length },
    data,
    lock,
    lockName,
    (flags & HeaderFlag.OwnsLock) !== 0,
    lockOpt instanceof Mutex,
  );
}

function dataView(shm: SharedMemory, bytes: number): Uint8Array {
  return new Uint8Array(shm.buffer.buffer, kHeaderSize, bytes);
}

/** `header`: the validated private copy of the fields (never re-read from the mapping). */
function segment(
  shm: SharedMemory,
  header: { typeCode: number; length: number },
  data: Uint8Array,
  lock: Mutex | null,
  lockName: string | null,
  created: boolean,
  given = false,
): Segment {
  return {
    name: shm.name,
    shm,
    typeCode: header.typeCode,
    length: header.length,
    data,
    lock,
    lockName,
    ownsLockHandle: lock !== null && !given,
    lockCreatedWithObject: created,
  };
}

/** @internal A reference to the segment is being handed off: lease it and its lock. */
export function leaseSegment(seg: Segment): void {
  if (seg.shm.closed) return;
  seg.shm.toJSON();
  if (seg.lock !== null && !seg.lock.closed) seg.lock.toJSON();
}

/** @internal Unmaps a segment and closes the lock handle it opened. */
export function closeSegment(seg: Segment): void {
  if (seg.shm.closed) return;
  seg.shm.close();
  if (seg.ownsLockHandle) seg.lock!.close();
}

/** @internal Unlinks a segment (an open one, or by name) and the lock created with it. */
export function unlinkSegment(target: Segment | string): boolean {
  let lockName: string | null = null;
  let name: string;
  if (typeof target === 'string') {
    let shm: SharedMemory;
    try {
      shm = new SharedMemory(target, { create: 'open' });
    } catch (err) {
      if (err instanceof NotFoundError) return false;
      throw err;
    }
    const u32 = shm.size >= kHeaderSize ? new Uint32Array(shm.buffer.buffer, 0, kHeaderWords) : null;
    // Each field loaded once (shared memory may change between two reads).
    const flags = u32 === null ? 0 : Atomics.load(u32, HeaderWord.Flags);
    const lockLength = u32 === null ? 0 : Atomics.load(u32, HeaderWord.LockNameLength);
    if ((flags & HeaderFlag.OwnsLock) !== 0 && lockLength > 0 && lockLength <= kLockNameMax) {
      lockName = Buffer.from(shm.buffer.subarray(kLockNameOffset, kLockNameOffset + lockLength)).toString('utf8');
    }
    shm.close();
    name = target;
  } else {
    name = target.name;
    if (target.lockCreatedWithObject) lockName = target.lockName;
  }
  if (lockName !== null) Mutex.unlink(lockName);
  return SharedMemory.unlink(name);
}

/** Element types of a SharedArray. */
export type SharedArrayType =
  'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'float32' | 'float64';
/** The typed array class behind each SharedArray element type. */
export interface SharedArrayTypes {
  int8: Int8Array;
  uint8: Uint8Array;
  int16: Int16Array;
  uint16: Uint16Array;
  int32: Int32Array;
  uint32: Uint32Array;
  int64: BigInt64Array;
  uint64: BigUint64Array;
  float32: Float32Array;
  float64: Float64Array;
}
const kArrayTypes = [
  ['int8', Int8Array],
  ['uint8', Uint8Array],
  ['int16', Int16Array],
  ['uint16', Uint16Array],
  ['int32', Int32Array],
  ['uint32', Uint32Array],
  ['int64', BigInt64Array],
  ['uint64', BigUint64Array],
  ['float32', Float32Array],
  ['float64', Float64Array],
] as const;
const kArrayTypeNames = kArrayTypes.map(([n]) => n) as readonly SharedArrayType[];
const codeOf = (type: SharedArrayType): number => kArrayTypeNames.indexOf(type) + 1;
const ctorOf = (code: number) => kArrayTypes[code - 1]?.[1];
const elementSize = (code: number): number => ctorOf(code)?.BYTES_PER_ELEMENT ?? 1;
/** @internal First word of a SharedArray segment ('SHA1'). */
export const kArrayMagic = 0x31414853;

/** Options of `new SharedArray()`. */
export interface SharedArrayOptions<T extends SharedArrayType = SharedArrayType> extends SegmentOptions {
  /** Element type; required to create; when opening, must match if given. */
  type?: T;
  /** Number of elements; defaults to `values.length`; when opening, must match if given. */
  length?: number;
  /** Initial elements when this call creates the segment (the rest are zero). */
  values?: ArrayLike<number> | ArrayLike<bigint>;
}

/**
 * A typed array in shared memory. `array` is a zero-copy view: use `Atomics` on integer types
 * for atomic element updates, and `lock` for updates that span several elements.
 *
 * ```ts
 * using stock = new SharedArray('stock', { type: 'int32', values: [10, 5, 0], lock: true });
 * stock.lock!.withLockSync(() => { stock.array[0] -= 1; stock.array[1] += 1; });
 * ```
 */
export class SharedArray<T extends SharedArrayType = SharedArrayType> {
  readonly name: string;
  readonly type: T;
  /** Number of elements. */
  readonly length: number;
  readonly #seg: Segment;
  readonly #array: SharedArrayTypes[T];

  constructor(options: SharedArrayOptions<T>);
  constructor(name?: string, options?: SharedArrayOptions<T>);
  constructor(nameOrOptions?: string | SharedArrayOptions<T>, maybeOptions?: SharedArrayOptions<T>) {
    const [name, given]: [string | undefined, unknown] =
      typeof nameOrOptions === 'object' && nameOrOptions !== null && maybeOptions === undefined
        ? [undefined, nameOrOptions]
        : [nameOrOptions as string | undefined, maybeOptions];
    const opts = optionsObject('options', given);
    rejectUnknownOptions('options', opts, ['type', 'length', 'values', 'lock', 'create', 'mode', 'lifetime'], {
      size: 'length',
    });
    if (opts.type !== undefined) validateOneOf('options.type', opts.type, kArrayTypeNames);
    const code = opts.type === undefined ? undefined : codeOf(opts.type as SharedArrayType);
    const values = checkValues(opts.values, opts.type as SharedArrayType | undefined);
    const length = opts.length ?? values?.length;
    if (length !== undefined) {
      const max =
        code === undefined ? 2 ** 32 - 1 : Math.floor((kMaxSharedMemorySize - kHeaderSize) / elementSize(code));
      validateInteger('options.length', length, Math.max(1, values?.length ?? 0), max);
    } else if (opts.create !== 'open' && code !== undefined) {
      throw typeError('options.length', 'given (or options.values) to create a SharedArray', undefined);
    }
    this.#seg = openSegment('SharedArray', kArrayMagic, name, opts, {
      typeCode: code,
      length: length as number | undefined,
      elementSize,
      init: (data) => {
        if (values !== undefined)
          new (ctorOf(code!)!)(data.buffer as ArrayBuffer, data.byteOffset, values.length).set(values as never);
      },
    });
    const Ctor = ctorOf(this.#seg.typeCode);
    if (Ctor === undefined) {
      closeSegment(this.#seg);
      throw new KindMismatchError(`"${this.#seg.name}" holds an unknown element type (code ${this.#seg.typeCode})`);
    }
    this.name = this.#seg.name;
    this.type = kArrayTypeNames[this.#seg.typeCode - 1] as T;
    this.length = this.#seg.length;
    this.#array = new Ctor(
      this.#seg.data.buffer as ArrayBuffer,
      this.#seg.data.byteOffset,
      this.length,
    ) as SharedArrayTypes[T];
  }

  /** The typed array over the shared elements (no copy). Throws after `close()`. */
  get array(): SharedArrayTypes[T] {
    if (this.#seg.shm.closed) throw new ClosedError(`SharedArray "${this.name}" is closed`);
    return this.#array;
  }

  /** The lock stored with the array (`{ lock: true }` or given), or null. */
  get lock(): Mutex | null {
    return this.#seg.lock;
  }
  /** The underlying segment. */
  get memory(): SharedMemory {
    return this.#seg.shm;
  }
  get closed(): boolean {
    return this.#seg.shm.closed;
  }
  /** Unmaps the array (views become detached) and closes the lock handle it opened. */
  close(): void {
    closeSegment(this.#seg);
  }
  /** Removes the name (and the lock's, when created with `{ lock: true }`). */
  unlink(): boolean {
    return unlinkSegment(this.#seg);
  }
  /** Removes a SharedArray (and its own lock) by name. Returns false if it did not exist. */
  static unlink(name: string): boolean {
    return unlinkSegment(name);
  }
  [Symbol.dispose](): void {
    this.close();
  }

  /** Reference form `{ $shmsync: 'SharedArray', name, type, length }`, reopened by `reviveHandle`. */
  toJSON(): HandleRef {
    leaseSegment(this.#seg);
    return { $shmsync: 'SharedArray', name: this.name, type: this.type, length: this.length };
  }
}

function checkValues(values: unknown, type: SharedArrayType | undefined): ArrayLike<number | bigint> | undefined {
  if (values === undefined) return undefined;
  if (type === undefined) throw typeError('options.type', 'given with options.values', undefined);
  if (typeof values !== 'object' || values === null || typeof (values as ArrayLike<unknown>).length !== 'number') {
    throw typeError('options.values', 'an array or typed array', values);
  }
  const big = type === 'int64' || type === 'uint64';
  const list = values as ArrayLike<unknown>;
  for (let i = 0; i < list.length; i++) {
    if (typeof list[i] !== (big ? 'bigint' : 'number'))
      throw typeError(`options.values[${i}]`, big ? 'a bigint' : 'a number', list[i]);
  }
  return list as ArrayLike<number | bigint>;
}

registerHandleType('SharedArray', (ref) => new SharedArray(ref.name, { create: 'open' }), SharedArray);
