/**
 * SharedMemory: a named POSIX shared-memory segment, the analogue of Python's
 * `multiprocessing.shared_memory.SharedMemory`. Thin facade: validates, then calls the addon.
 */
import { binding, type NativeRegion } from '../addon/binding';
import { ClosedError, NoExternalBufferError } from '../errors';
import {
  optionsObject,
  rangeError,
  rejectUnknownOptions,
  typeError,
  validateInteger,
  validateName,
  validateOneOf,
} from '../validate';
import { registerHandleType, type HandleRef } from '../wire/handle-ref';
import { afterRelease, leaseHandoff, lifetimeFlag, noteAttached, type Lifetime } from '../addon/lifetime';
import { segmentNameFor, uniqueName, unlinkByName } from '../addon/names';

/** Object kinds stored in the segment header (native/core/layout.h `Kind`). */
export const enum SegmentKind {
  Raw = 1,
  Mutex = 2,
  Queue = 3,
}

export type CreateMode = 'open' | 'create' | 'openOrCreate';
const kCreateModes: readonly CreateMode[] = ['open', 'create', 'openOrCreate'];
const kOpenModeNumber: Record<CreateMode, number> = { open: 0, create: 1, openOrCreate: 2 };

/** Largest segment: Node's maximum typed-array length. */
export const kMaxSharedMemorySize = 2 ** 32;

export interface SharedMemoryOptions {
  /** Size in bytes. Required to create; when opening, the segment must have this size. */
  size?: number;
  /** Default: `'openOrCreate'` when `size` is given, else `'open'`; `'create'` without a name. */
  create?: CreateMode;
  /** Permission bits for a created segment (default `0o600`). */
  mode?: number;
  /**
   * For a segment this call creates: `'attached'` (default without a name) unlinks it when the
   * last handle of every process is released; `'persistent'` (default with a name) keeps it
   * until `unlink`. See docs/concepts/naming-and-lifetime.md.
   */
  lifetime?: Lifetime;
  /**
   * Open a segment that another user owns (default `false`). `/dev/shm` is writable by every
   * local user, so by default a segment whose file is not owned by this process's effective
   * uid is refused with `SHMSYNC_PERMISSION` (the message names the owner): anyone could have
   * planted it under your name. Set this only when you share memory with another user on
   * purpose and trust what they write; the contents stay untrusted input either way.
   */
  allowForeignOwner?: boolean;
}

/** Validated `mode` option shared by every handle type. */
export function permissionMode(value: unknown): number {
  if (value === undefined) return 0o600;
  validateInteger('options.mode', value, 0, 0o777);
  return value;
}

/** Opens/creates a native region for any handle type (used by SharedMemory, Mutex, queues). */
export function openNativeRegion(
  logicalName: string,
  kind: SegmentKind,
  size: number,
  mode: CreateMode,
  perm: number,
  lifetime = 0,
  allowForeignOwner = false,
): NativeRegion {
  const native = new binding.Region(
    segmentNameFor(logicalName),
    kind,
    size,
    kOpenModeNumber[mode],
    perm,
    lifetime,
    allowForeignOwner,
  );
  if (native.attached) noteAttached();
  return native;
}

/**
 * A named shared-memory segment. `buffer` is a zero-copy view of the mapping.
 *
 * ```ts
 * using shm = new SharedMemory('config', { size: 4096 });
 * shm.buffer[0] = 1;           // visible to every process that opens 'config'
 * ```
 */
export class SharedMemory {
  /** The logical name (without the `shmsync-` segment prefix). */
  readonly name: string;
  #native: NativeRegion | null;
  #view: Uint8Array | null = null;
  #size: number;
  #created: boolean;

  constructor(name?: string, options?: SharedMemoryOptions) {
    const opts = optionsObject('options', options);
    rejectUnknownOptions('options', opts, ['size', 'create', 'mode', 'lifetime', 'allowForeignOwner'], {
      length: 'size',
      flags: 'create',
      perm: 'mode',
      trustOwner: 'allowForeignOwner',
    });
    if (name !== undefined) validateName('name', name);
    const size = opts.size;
    if (size !== undefined) {
      if (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > kMaxSharedMemorySize) {
        if (typeof size !== 'number') validateInteger('options.size', size, 1, kMaxSharedMemorySize);
        throw rangeError('options.size', `an integer from 1 to ${kMaxSharedMemorySize}`, size);
      }
    }
    let mode: CreateMode;
    if (opts.create === undefined) {
      mode = name === undefined ? 'create' : size === undefined ? 'open' : 'openOrCreate';
    } else {
      validateOneOf('options.create', opts.create, kCreateModes);
      mode = opts.create;
    }
    if (mode !== 'open' && size === undefined) {
      throw rangeError('options.size', 'given to create a segment', size);
    }
    const perm = permissionMode(opts.mode);
    const allowForeignOwner = opts.allowForeignOwner ?? false;
    if (typeof allowForeignOwner !== 'boolean') {
      throw typeError('options.allowForeignOwner', 'a boolean', allowForeignOwner);
    }
    const lifetime = lifetimeFlag(opts.lifetime, name !== undefined);
    this.name = name ?? uniqueName('shm');
    this.#native = openNativeRegion(this.name, SegmentKind.Raw, size ?? 0, mode, perm, lifetime, allowForeignOwner);
    this.#size = this.#native.size;
    this.#created = this.#native.created;
  }

  /** Size in bytes. */
  get size(): number {
    return this.#size;
  }

  /** Whether this handle created the segment (false when it opened an existing one). */
  get created(): boolean {
    return this.#created;
  }

  /** `'attached'` or `'persistent'`: recorded in the segment by its creator. */
  get lifetime(): Lifetime {
    return this.#open().attached ? 'attached' : 'persistent';
  }

  /** True after `close()`. */
  get closed(): boolean {
    return this.#native === null;
  }

  /**
   * A `Uint8Array` over the mapping, no copy. After `close()` it is detached (length 0).
   * Throws `SHMSYNC_NO_EXTERNAL_BUFFER` where the runtime forbids external buffers; use
   * `read()`/`write()` there.
   */
  get buffer(): Uint8Array {
    const native = this.#open();
    if (this.#view === null) {
      const ab = native.buffer();
      if (ab === undefined) {
        throw new NoExternalBufferError('this runtime forbids external ArrayBuffers; use read()/write()');
      }
      this.#view = new Uint8Array(ab);
    }
    return this.#view;
  }

  /** Copies `length` bytes starting at `offset` out of the segment. */
  read(offset = 0, length = this.#size - offset): Buffer {
    this.#checkRange(offset, length);
    const out = Buffer.allocUnsafe(length);
    this.#open().read(offset, out);
    return out;
  }

  /** Copies `data` into the segment at `offset`. */
  write(data: Uint8Array, offset = 0): void {
    if (!(data instanceof Uint8Array)) throw typeError('data', 'a Uint8Array or Buffer', data);
    this.#checkRange(offset, data.byteLength);
    this.#open().write(offset, data);
  }

  /** Unmaps this handle. Idempotent. Views from `buffer` become detached (length 0). */
  close(): void {
    if (this.#native === null) return;
    afterRelease(segmentNameFor(this.name), this.#native.close());
    this.#native = null;
    this.#view = null;
  }

  /** Removes the name; mappings stay valid until closed. Returns false if it was already gone. */
  unlink(): boolean {
    return SharedMemory.unlink(this.name);
  }

  /** Removes a segment by logical name. Returns false if no such segment existed. */
  static unlink(name: string): boolean {
    return unlinkByName(name);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** Reference form, reopened by `reviveHandle` in another process or thread. */
  toJSON(): HandleRef {
    leaseHandoff(this.#native);
    return { $shmsync: 'SharedMemory', name: this.name, size: this.#size };
  }

  #open(): NativeRegion {
    if (this.#native === null) throw new ClosedError(`SharedMemory "${this.name}" is closed`);
    return this.#native;
  }

  #checkRange(offset: number, length: number): void {
    validateInteger('offset', offset, 0, this.#size);
    validateInteger('length', length, 0, this.#size - offset);
  }
}

registerHandleType('SharedMemory', (ref) => new SharedMemory(ref.name, { create: 'open' }), SharedMemory);
