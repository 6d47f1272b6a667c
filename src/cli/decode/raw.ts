/**
 * Decoder of what a raw segment may hold: a SharedValue ('SHV1') or SharedArray ('SHA1') header
 * of 256 bytes (src/shared/shared-array.ts), else plain SharedMemory bytes.
 */
import {
  HeaderFlag,
  HeaderWord,
  kHeaderSize as kValueHeader,
  kLockNameMax,
  kLockNameOffset,
} from '../../shared/header';

export const kValueMagic = 0x31564853; // 'SHV1'
export const kArrayMagic = 0x31414853; // 'SHA1'
const kValueTypes: Record<number, string> = { 5: 'int32', 6: 'uint32', 7: 'int64', 10: 'float64', 11: 'bool' };
const kArrayTypes = ['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'float32', 'float64'];
const kArrayElementBytes = [1, 1, 2, 2, 4, 4, 8, 8, 4, 8];

export interface RawInfo {
  /** 'memory' (plain SharedMemory), 'value' or 'array'. */
  holds: 'memory' | 'value' | 'array';
  type?: string;
  length?: number;
  lock?: string | null;
  lockCreatedWithObject?: boolean;
}

export interface RawDecode {
  raw: RawInfo;
  problem: string | null;
}

/** `head` is the first (up to) 256 payload bytes; `payloadSize` from the header. */
export function decodeRaw(head: Buffer, payloadSize: number): RawDecode {
  if (head.length < kValueHeader) return { raw: { holds: 'memory' }, problem: null };
  const word = (w: HeaderWord): number => head.readUInt32LE(w * 4);
  const magic = word(HeaderWord.Magic);
  if (magic !== kValueMagic && magic !== kArrayMagic) return { raw: { holds: 'memory' }, problem: null };
  const isValue = magic === kValueMagic;
  const typeCode = word(HeaderWord.TypeCode);
  const flags = word(HeaderWord.Flags);
  const length = word(HeaderWord.Length);
  const lockLen = word(HeaderWord.LockNameLength);
  const raw: RawInfo = {
    holds: isValue ? 'value' : 'array',
    length,
    lockCreatedWithObject: (flags & HeaderFlag.OwnsLock) !== 0,
  };
  if (lockLen > kLockNameMax)
    return { raw: { ...raw, lock: null }, problem: `lock name length ${lockLen} beyond ${kLockNameMax} bytes` };
  raw.lock = lockLen === 0 ? null : head.subarray(kLockNameOffset, kLockNameOffset + lockLen).toString('utf8');
  if (isValue) {
    raw.type = kValueTypes[typeCode];
    if (raw.type === undefined) return { raw, problem: `value type code ${typeCode} unknown` };
    if (length !== 1 || payloadSize < kValueHeader + 8)
      return { raw, problem: 'value header inconsistent with the segment size' };
  } else {
    const t = typeCode - 1;
    raw.type = kArrayTypes[t];
    if (raw.type === undefined) return { raw, problem: `array type code ${typeCode} unknown` };
    if (kValueHeader + length * kArrayElementBytes[t] > payloadSize)
      return { raw, problem: `array of ${length} ${raw.type} does not fit the segment` };
  }
  return { raw, problem: null };
}
