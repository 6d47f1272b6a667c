/**
 * Header of a SharedValue / SharedArray segment: the first 256 bytes of its SharedMemory payload
 * (docs/concepts/memory-layout.md; decoded read-only by src/cli/decode/raw.ts).
 *
 *   bytes 0..19   five uint32 words, indexed by HeaderWord
 *   bytes 20..255 the UTF-8 name of the lock stored beside the data (LockNameLength bytes)
 *   bytes 256..   the values
 *
 * The creator fills every field, then stores Magic last (Atomics.store): an opener that loads a
 * non-zero Magic sees the rest initialised. Shared memory is untrusted: an opener loads each
 * word once and validates its private copy.
 */

/** Index of each uint32 header word. */
export const enum HeaderWord {
  /** Kind magic; 0 while the creator is still initialising. */
  Magic = 0,
  /** Element type code (shared-array.ts kArrayTypes, 1-based). */
  TypeCode = 1,
  /** HeaderFlag bits. */
  Flags = 2,
  /** Number of elements. */
  Length = 3,
  /** Bytes of the lock name at kLockNameOffset (0: no lock). */
  LockNameLength = 4,
}

/** Number of uint32 header words. */
export const kHeaderWords = 5;

export const enum HeaderFlag {
  /** The lock was created with the object (`lock: true`): unlinking the object unlinks it. */
  OwnsLock = 1,
}

/** Byte offset of the lock name. */
export const kLockNameOffset = kHeaderWords * 4;
/** Bytes before the values. */
export const kHeaderSize = 256;
/** Longest lock name the header holds. */
export const kLockNameMax = kHeaderSize - kLockNameOffset;
