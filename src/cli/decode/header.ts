/**
 * Decoder of the 64-byte segment header (native/core/layout.h). Runs in the `shmsync` command
 * only, over bytes read with pread: every field is untrusted and checked against the file size
 * before any payload is interpreted. Never throws on bad input: returns a `problem` instead.
 */
import * as fs from 'node:fs';

export const kMagic = 0x534d4853; // "SHMS"
export const kLayoutVersion = 1;
export const kHeaderSize = 64;
export const kMaxSegmentSize = 2 ** 32;

export type SegmentKind = 'raw' | 'mutex' | 'queue' | 'owners' | 'rwlock';
export const kKinds: Record<number, SegmentKind> = { 1: 'raw', 2: 'mutex', 3: 'queue', 4: 'owners', 5: 'rwlock' };

export interface Header {
  magic: number;
  version: number;
  kindCode: number;
  kind: SegmentKind | null;
  flags: number;
  totalSize: number;
  payloadOffset: number;
  payloadSize: number;
  /** Present for an attached-lifetime segment (flags bit kFlagAttached). */
  attach?: AttachWord;
}

/** Header flag bit: attached lifetime (native/core/attach.h kFlagAttached). */
export const kFlagAttached = 1;

/**
 * The attach word of an attached-lifetime segment (header bytes 40..47, native/core/attach.h):
 * handles attached in all processes, hand-offs not yet opened, and the end of their lease.
 */
export interface AttachWord {
  /** Handles attached (65535: reaped, never reopened). */
  count: number;
  pending: number;
  /** Milliseconds until the hand-off lease ends (0: none or expired). */
  leaseLeftMs: number;
  /** Inode of the creator's PID namespace (header bytes 48..55; 0n: unknown). */
  pidNamespace: bigint;
}

/** CLOCK_BOOTTIME in ms (what the lease deadline counts), from /proc/uptime (10 ms steps). */
export function bootTimeMs(): number {
  try {
    return Math.floor(Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1000);
  } catch {
    return 0;
  }
}

export function decodeAttachWord(buf: Buffer, nowBootMs: number): AttachWord {
  const deadline = buf.readUInt32LE(40) + (buf[44] ?? 0) * 2 ** 32; // low 40 bits
  return {
    count: buf.readUInt16LE(46),
    pending: buf[45] ?? 0,
    leaseLeftMs: Math.max(0, deadline - nowBootMs),
    pidNamespace: buf.readBigUInt64LE(48),
  };
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
  if (buf.length < kHeaderSize)
    return { header: null, problem: `truncated: ${buf.length} bytes, the header needs ${kHeaderSize}` };
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
  if (header.version !== kLayoutVersion)
    return bad(`layout version ${header.version} (this tool reads ${kLayoutVersion})`);
  if (header.kind === null) return bad(`unknown kind ${header.kindCode}`);
  if (!(header.totalSize <= kMaxSegmentSize)) return bad(`total size ${header.totalSize} beyond 4 GiB`);
  if (header.totalSize !== fileSize) return bad(`header says ${header.totalSize} bytes, the file has ${fileSize}`);
  if (header.payloadOffset !== kHeaderSize)
    return bad(`payload offset ${header.payloadOffset}, expected ${kHeaderSize}`);
  if (header.payloadSize !== header.totalSize - header.payloadOffset)
    return bad(`payload size ${header.payloadSize} does not match the total size`);
  if ((header.flags & kFlagAttached) !== 0) header.attach = decodeAttachWord(buf, bootTimeMs());
  return { header, problem: null };
}
