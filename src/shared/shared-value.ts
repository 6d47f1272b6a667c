/**
 * SharedValue: one number, bigint or boolean in shared memory, read and written atomically from
 * any process or thread (the analogue of Python's `multiprocessing.Value`).
 *
 * Segment layout (little-endian; the segment is a raw SharedMemory):
 *
 *   0      4      8      12     16     20            256        264
 *   | magic| type | flags|length|lockLen| lock name ... | value (8) |
 *
 * `magic` is stored last (Atomics.store) by the creator, so an opener that sees it sees a fully
 * initialised header and value; an opener that finds it zero waits a bounded time for it.
 * Atomics work on the mapping (a non-shared external ArrayBuffer) for every operation except
 * wait/notify; float64 uses a compare-and-swap loop on its 64-bit pattern.
 */
import { ClosedError, KindMismatchError } from '../errors';
import { optionsObject, rangeError, rejectUnknownOptions, typeError, validateOneOf } from '../validate';
import { registerHandleType, type HandleRef } from '../wire/handle-ref';
import type { Mutex } from '../lock/mutex';
import {
  closeSegment,
  leaseSegment,
  openSegment,
  unlinkSegment,
  type Segment,
  type SegmentOptions,
} from './shared-array';
import type { SharedMemory } from '../shared-memory/shared-memory';

/** Element types of a SharedValue. */
export type SharedValueType = 'int32' | 'uint32' | 'int64' | 'float64' | 'bool';
/** The JavaScript type of a SharedValue's `value`. */
export type SharedValueOf<T extends SharedValueType> = T extends 'int64' ? bigint : T extends 'bool' ? boolean : number;

/** Options of `new SharedValue()`. */
export interface SharedValueOptions<T extends SharedValueType = SharedValueType> extends SegmentOptions {
  /** Required to create; when opening, must match the stored type if given. */
  type?: T;
  /** Initial value when this call creates the segment (default 0 / 0n / false). */
  value?: SharedValueOf<T>;
}

const kTypes: readonly SharedValueType[] = ['int32', 'uint32', 'int64', 'float64', 'bool'];
const kTypeCodes: Record<SharedValueType, number> = { int32: 5, uint32: 6, int64: 7, float64: 10, bool: 11 };
/** @internal First word of a SharedValue segment ('SHV1'). */
export const kValueMagic = 0x31564853;

const f64 = new Float64Array(1);
const bits = new BigInt64Array(f64.buffer);
const toBits = (x: number): bigint => ((f64[0] = x), bits[0]);
const fromBits = (b: bigint): number => ((bits[0] = b), f64[0]);

/** Checks `value` for a SharedValue of `type` (also used for `add` deltas, with wider bounds). */
function checkValue(name: string, type: SharedValueType, value: unknown, delta = false): void {
  switch (type) {
    case 'int32':
    case 'uint32': {
      const [min, max] = type === 'int32' ? [-(2 ** 31), 2 ** 31 - 1] : [delta ? -(2 ** 32 - 1) : 0, 2 ** 32 - 1];
      if (typeof value !== 'number') throw typeError(name, 'an integer', value);
      if (!Number.isInteger(value) || value < min || value > max)
        throw rangeError(name, `an integer from ${min} to ${max}`, value);
      return;
    }
    case 'int64':
      if (typeof value !== 'bigint') throw typeError(name, 'a bigint', value);
      if (value < -(2n ** 63n) || value > 2n ** 63n - 1n)
        throw rangeError(name, 'a bigint from -(2n ** 63n) to 2n ** 63n - 1n', value);
      return;
    case 'float64':
      if (typeof value !== 'number') throw typeError(name, 'a number', value);
      return;
    case 'bool':
      if (typeof value !== 'boolean') throw typeError(name, 'a boolean', value);
  }
}

/**
 * An atomic value in shared memory.
 *
 * ```ts
 * using hits = new SharedValue('hits', { type: 'int32' });
 * hits.add(1);                         // atomic in every process; returns the new value
 * child.send({ hits });                // crosses as a reference: reviveHandle() reopens it
 * ```
 */
export class SharedValue<T extends SharedValueType = SharedValueType> {
  /** Logical name of the segment. */
  readonly name: string;
  /** The element type, fixed at creation. */
  readonly type: T;
  readonly #seg: Segment;
  readonly #i32: Int32Array;
  readonly #u32: Uint32Array;
  readonly #i64: BigInt64Array;

  constructor(options: SharedValueOptions<T>);
  constructor(name?: string, options?: SharedValueOptions<T>);
  constructor(nameOrOptions?: string | SharedValueOptions<T>, maybeOptions?: SharedValueOptions<T>) {
    const [name, given]: [string | undefined, unknown] =
      typeof nameOrOptions === 'object' && nameOrOptions !== null && maybeOptions === undefined
        ? [undefined, nameOrOptions]
        : [nameOrOptions as string | undefined, maybeOptions];
    const opts = optionsObject('options', given);
    rejectUnknownOptions('options', opts, ['type', 'value', 'lock', 'create', 'mode', 'lifetime'], {
      initial: 'value',
    });
    if (opts.type !== undefined) validateOneOf('options.type', opts.type, kTypes);
    const type = opts.type as T | undefined;
    if (opts.value !== undefined) {
      if (type === undefined) throw typeError('options.type', 'given with options.value', undefined);
      checkValue('options.value', type, opts.value);
    }
    this.#seg = openSegment('SharedValue', kValueMagic, name, opts, {
      typeCode: type === undefined ? undefined : kTypeCodes[type],
      length: 1,
      elementSize: () => 8,
      init: (data) => {
        if (opts.value !== undefined)
          new DataView(data.buffer, data.byteOffset, 8).setBigInt64(0, toRaw(type!, opts.value), true);
      },
    });
    const code = this.#seg.typeCode;
    const stored = kTypes.find((t) => kTypeCodes[t] === code);
    if (stored === undefined || this.#seg.length !== 1) {
      const err = new KindMismatchError(`"${this.#seg.name}" is not a SharedValue segment (type code ${code})`);
      closeSegment(this.#seg);
      throw err;
    }
    this.name = this.#seg.name;
    this.type = stored as T;
    const { buffer, byteOffset } = this.#seg.data;
    this.#i32 = new Int32Array(buffer, byteOffset, 1);
    this.#u32 = new Uint32Array(buffer, byteOffset, 1);
    this.#i64 = new BigInt64Array(buffer, byteOffset, 1);
  }

  /** The current value (atomic load). Setting it is an atomic store. */
  get value(): SharedValueOf<T> {
    this.#check();
    switch (this.type) {
      case 'int32':
        return Atomics.load(this.#i32, 0) as SharedValueOf<T>;
      case 'uint32':
        return Atomics.load(this.#u32, 0) as SharedValueOf<T>;
      case 'int64':
        return Atomics.load(this.#i64, 0) as SharedValueOf<T>;
      case 'float64':
        return fromBits(Atomics.load(this.#i64, 0)) as SharedValueOf<T>;
      default:
        return (Atomics.load(this.#i32, 0) !== 0) as SharedValueOf<T>;
    }
  }

  set value(v: SharedValueOf<T>) {
    this.#check();
    checkValue('value', this.type, v);
    this.#exchange(v);
  }

  /**
   * Atomically adds `n` (negative to subtract) and returns the **new** value (unlike
   * `Atomics.add`, which returns the old one). int32/uint32/int64 wrap around like Atomics;
   * float64 is exact while the values are integers below 2 ** 53. Not available for 'bool'.
   */
  add(n: SharedValueOf<T>): SharedValueOf<T> {
    this.#check();
    if (this.type === 'bool')
      throw typeError(`add() on SharedValue "${this.name}"`, "called on a numeric type, not 'bool'", n);
    checkValue('n', this.type, n, true);
    switch (this.type) {
      case 'int32':
        return ((Atomics.add(this.#i32, 0, n as number) + (n as number)) | 0) as SharedValueOf<T>;
      case 'uint32':
        return ((Atomics.add(this.#u32, 0, (n as number) >>> 0) + (n as number)) >>> 0) as SharedValueOf<T>;
      case 'int64':
        return BigInt.asIntN(64, Atomics.add(this.#i64, 0, n as bigint) + (n as bigint)) as SharedValueOf<T>;
      default: {
        for (;;) {
          const old = Atomics.load(this.#i64, 0);
          const next = toBits(fromBits(old) + (n as number));
          if (Atomics.compareExchange(this.#i64, 0, old, next) === old) return fromBits(next) as SharedValueOf<T>;
        }
      }
    }
  }

  /**
   * Atomically replaces the value with `replacement` if it equals `expected`; returns the value
   * found (equal to `expected` exactly when the exchange happened), like
   * `Atomics.compareExchange`. float64 compares bit patterns: use `Object.is(found, expected)`.
   */
  compareExchange(expected: SharedValueOf<T>, replacement: SharedValueOf<T>): SharedValueOf<T> {
    this.#check();
    checkValue('expected', this.type, expected);
    checkValue('replacement', this.type, replacement);
    switch (this.type) {
      case 'int32':
        return Atomics.compareExchange(this.#i32, 0, expected as number, replacement as number) as SharedValueOf<T>;
      case 'uint32':
        return Atomics.compareExchange(this.#u32, 0, expected as number, replacement as number) as SharedValueOf<T>;
      case 'int64':
        return Atomics.compareExchange(this.#i64, 0, expected as bigint, replacement as bigint) as SharedValueOf<T>;
      case 'float64':
        return fromBits(
          Atomics.compareExchange(this.#i64, 0, toBits(expected as number), toBits(replacement as number)),
        ) as SharedValueOf<T>;
      default:
        return (Atomics.compareExchange(this.#i32, 0, expected ? 1 : 0, replacement ? 1 : 0) !== 0) as SharedValueOf<T>;
    }
  }

  /** Atomically stores `v` and returns the previous value. */
  exchange(v: SharedValueOf<T>): SharedValueOf<T> {
    this.#check();
    checkValue('v', this.type, v);
    return this.#exchange(v);
  }

  /** The lock stored with the value (`{ lock: true }` or given), or null. */
  get lock(): Mutex | null {
    return this.#seg.lock;
  }

  /** The underlying segment (for its size, or raw access). */
  get memory(): SharedMemory {
    return this.#seg.shm;
  }

  get closed(): boolean {
    return this.#seg.shm.closed;
  }

  /** Unmaps the value and closes the lock handle it opened. Idempotent. */
  close(): void {
    closeSegment(this.#seg);
  }

  /** Removes the name (and the lock's, when created with `{ lock: true }`). */
  unlink(): boolean {
    return unlinkSegment(this.#seg);
  }

  /** Removes a SharedValue (and its own lock) by name. Returns false if it did not exist. */
  static unlink(name: string): boolean {
    return unlinkSegment(name);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** Reference form `{ $shmsync: 'SharedValue', name, type }`, reopened by `reviveHandle`. */
  toJSON(): HandleRef {
    leaseSegment(this.#seg);
    return { $shmsync: 'SharedValue', name: this.name, type: this.type };
  }

  #exchange(v: SharedValueOf<T>): SharedValueOf<T> {
    switch (this.type) {
      case 'int32':
        return Atomics.exchange(this.#i32, 0, v as number) as SharedValueOf<T>;
      case 'uint32':
        return Atomics.exchange(this.#u32, 0, v as number) as SharedValueOf<T>;
      case 'int64':
        return Atomics.exchange(this.#i64, 0, v as bigint) as SharedValueOf<T>;
      case 'float64':
        return fromBits(Atomics.exchange(this.#i64, 0, toBits(v as number))) as SharedValueOf<T>;
      default:
        return (Atomics.exchange(this.#i32, 0, v ? 1 : 0) !== 0) as SharedValueOf<T>;
    }
  }

  #check(): void {
    if (this.#seg.shm.closed) throw new ClosedError(`SharedValue "${this.name}" is closed`);
  }
}

function toRaw(type: SharedValueType, value: unknown): bigint {
  switch (type) {
    case 'int64':
      return value as bigint;
    case 'float64':
      return toBits(value as number);
    case 'bool':
      return value ? 1n : 0n;
    default:
      return BigInt(value as number) & 0xffffffffn;
  }
}

registerHandleType(
  'SharedValue',
  (ref) =>
    new SharedValue(ref.name, {
      create: 'open',
      type: typeof ref.type === 'string' ? (ref.type as SharedValueType) : undefined,
    }),
  SharedValue,
);
