/**
 * Decoder of the 64-byte segment header (native/core/layout.h). Runs in the `shmsync` command
 * only, over bytes read with pread: every field is untrusted and checked against the file size
 * before any payload is interpreted. Never throws on bad input: returns a `problem` instead.
 */
export const kMagic = 0x534d4853; // "SHMS"
export const kLayoutVersion = 1;
export const kHeaderSize = 64;
export const kMaxSegmentSize = 2 ** 32;

export type SegmentKind = 'raw' | 'mutex' | 'queue' | 'owners';
export const kKinds: Record<number, SegmentKind> = { 1: 'raw', 2: 'mutex', 3: 'queue', 4: 'owners' };

export interface Header {
  magic: number;
  version: number;
  kindCode: number;
  kind: SegmentKind | null;
  flags: number;
  totalSize: number;
  payloadOffset: number;
  payloadSize: number;
}

export interface HeaderResult {
  header: Header | null;
  /** Why the segment is corrupt (null: header consistent with the file). */
  problem: string | null;
}

/** u64 as a JS number, or NaN when it exceeds 2^53 (never a valid size here). */
export function u64(buf: Buffer, at: number): number {
  const v = buf.readBigUInt64LE(at);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.NaN : Number(v);
}

export function decodeHeader(buf: Buffer, fileSize: number): HeaderResult {
  if (buf.length < kHeaderSize) return { header: null, problem: `truncated: ${buf.length} bytes, the header needs ${kHeaderSize}` };
  const header: Header = {
    magic: buf.readUInt32LE(0),
    version: buf.readUInt16LE(4),
    kindCode: buf.readUInt16LE(6),
    kind: kKinds[buf.readUInt16LE(6)] ?? null,
    flags: buf.readUInt32LE(8),
    totalSize: u64(buf, 16),
    payloadOffset: u64(buf, 24),
    payloadSize: u64(buf, 32),
  };
  const bad = (problem: string): HeaderResult => ({ header, problem });
  if (header.magic !== kMagic) return bad(`bad magic 0x${header.magic.toString(16).padStart(8, '0')}`);
  if (header.version !== kLayoutVersion) return bad(`layout version ${header.version} (this tool reads ${kLayoutVersion})`);
  if (header.kind === null) return bad(`unknown kind ${header.kindCode}`);
  if (!(header.totalSize <= kMaxSegmentSize)) return bad(`total size ${header.totalSize} beyond 4 GiB`);
  if (header.totalSize !== fileSize) return bad(`header says ${header.totalSize} bytes, the file has ${fileSize}`);
  if (header.payloadOffset !== kHeaderSize) return bad(`payload offset ${header.payloadOffset}, expected ${kHeaderSize}`);
  if (header.payloadSize !== header.totalSize - header.payloadOffset) return bad(`payload size ${header.payloadSize} does not match the total size`);
  return { header, problem: null };
}
