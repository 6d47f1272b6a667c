/**
 * Lifetimes of segments (docs/concepts/naming-and-lifetime.md, native/core/attach.h).
 *
 * - `'persistent'` (the default with a name): the segment lives until `unlink`, like a file.
 * - `'attached'` (the default without a name): the segment belongs to the handles that map it;
 *   the last one released - `close()`, `Symbol.dispose`, garbage collection, worker or process
 *   exit - unlinks it. A reference handed to another process (`toJSON`, the handle codec of
 *   pcall and queues) takes a lease that keeps the segment until the receiver has opened it
 *   or the lease ran out. Segments whose users all crashed are removed by {@link gcSegments},
 *   which every process runs once, shortly after its first attached object.
 *
 * Runs on the calling JS thread; the sweep reads /dev/shm and /proc (main thread of a process).
 */
import * as fs from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { binding } from './binding';
import { validateInteger, validateOneOf } from '../validate';
import { kSegmentPrefix } from './names';

export type Lifetime = 'attached' | 'persistent';
const kLifetimes: readonly Lifetime[] = ['attached', 'persistent'];

/** Header flag bit (native/core/attach.h kFlagAttached). */
export const kFlagAttached = 1;

/** Validated `options.lifetime` as the native flag: anonymous objects default to attached. */
export function lifetimeFlag(value: unknown, named: boolean): number {
  if (value === undefined) return named ? 0 : kFlagAttached;
  validateOneOf('options.lifetime', value, kLifetimes);
  return value === 'attached' ? kFlagAttached : 0;
}

/** What a native handle of any kind offers for lifetimes. */
export interface AttachedNative {
  readonly attached: boolean;
  lease(ms: number): boolean;
}

const kDefaultLeaseMs = 30_000;
let leaseMs = initialLease();

function initialLease(): number {
  const env = Number(process.env.SHMSYNC_HANDOFF_LEASE_MS);
  return Number.isInteger(env) && env >= 0 && env <= 86_400_000 ? env : kDefaultLeaseMs;
}

/**
 * How long (ms) a handed-off reference keeps an attached segment alive when every handle of it
 * was released before the receiver opened it. Default 30 000, or `SHMSYNC_HANDOFF_LEASE_MS`.
 * Returns the previous value.
 */
export function setHandoffLease(ms: number): number {
  validateInteger('ms', ms, 0, 86_400_000);
  const previous = leaseMs;
  leaseMs = ms;
  return previous;
}

/** Handles already leased by the encode in progress (see oneLeasePerHandle); null outside. */
let encodeBatch: Set<AttachedNative> | null = null;

/**
 * Sending side of a hand-off (a handle's toJSON): stamps the lease - once per handle within one
 * {@link oneLeasePerHandle} encode, since a receiver opens each handle of a message once.
 */
export function leaseHandoff(native: AttachedNative | null): void {
  if (native === null || !native.attached) return;
  if (encodeBatch !== null) {
    if (encodeBatch.has(native)) return;
    encodeBatch.add(native);
  }
  native.lease(leaseMs);
}

/**
 * Runs one message encode (JS thread): the encoder may call a handle's toJSON more than once
 * (a probe pass, then the side-table pass, or the same handle at several paths), but every
 * handle records one pending hand-off - the receiver opens it once, and an extra pending one
 * would keep the segment until its lease ran out.
 */
export function oneLeasePerHandle<T>(encode: () => T): T {
  if (encodeBatch !== null) return encode(); // nested (a handle's own toJSON encodes)
  encodeBatch = new Set();
  try {
    return encode();
  } finally {
    encodeBatch = null;
  }
}

/**
 * After a native close(): `released` > 0 means the segment waits for a hand-off nobody opened
 * yet; check it again when the lease has run out (unref'd: never keeps the process alive).
 */
export function afterRelease(segmentName: string, released: unknown): void {
  if (typeof released !== 'number' || released <= 0) return;
  setTimeout(() => binding.reapSegment(segmentName, 0, false), released + 20).unref();
}

let sweepScheduled = false;

/** Called when this context creates or opens an attached segment: schedules the sweep once. */
export function noteAttached(): void {
  if (sweepScheduled) return;
  sweepScheduled = true;
  if (!isMainThread || process.env.SHMSYNC_NO_SWEEP === '1') return;
  setTimeout(() => {
    try {
      gcSegments();
    } catch {
      // best effort: a failed sweep leaves leftovers for the next process or `shmsync gc`
    }
  }, 0).unref();
}

export interface GcResult {
  /** Segment names (without `/dev/shm/`) this call unlinked. */
  removed: string[];
  /** Attached segments of this user that were left: in use, or in a hand-off lease. */
  kept: number;
}

const kMagic = 0x534d4853;

/**
 * Removes this user's attached-lifetime segments nobody can use any more: released by all
 * their handles with no pending hand-off, a lease that ran out, or every user dead (no live
 * process maps the segment's inode - judged by device and inode in /proc/<pid>/maps, not by
 * path: a creator maps its segment under the temporary name it was published from). Persistent
 * segments are never touched. Safe while shmsync processes run: each removal is a CAS on the
 * segment's attach word, so a concurrent open either wins (the segment stays) or fails as not
 * found. Without a trustworthy /proc (see {@link mappedInodes}) it removes only released or
 * expired segments. `dir` and `proc` are for tests (defaults `/dev/shm`, `/proc`).
 */
/** Inode of the PID namespace of this process as seen in `proc` (0n: unknown). */
export function pidNamespaceOf(proc = '/proc'): bigint {
  try {
    return fs.statSync(`${proc}/self/ns/pid`, { bigint: true }).ino;
  } catch {
    return 0n;
  }
}

export function gcSegments(dir = '/dev/shm', proc = '/proc'): GcResult {
  const uid = process.getuid?.() ?? -1;
  const candidates: { name: string; ino: number; count: number; word: bigint; shared: boolean; foreignNs: boolean }[] =
    [];
  const ownNs = pidNamespaceOf(proc);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return { removed: [], kept: 0 };
  }
  const header = Buffer.alloc(64);
  for (const name of names) {
    if (!name.startsWith(kSegmentPrefix)) continue;
    let fd: number;
    try {
      fd = fs.openSync(`${dir}/${name}`, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
    } catch {
      continue; // gone, or not ours to read
    }
    try {
      const st = fs.fstatSync(fd);
      // S_ISVTX: the owner's attached mark (native/core/attach.h IsAttached).
      if (!st.isFile() || st.uid !== uid || st.size < 64 || (st.mode & 0o1000) === 0) continue;
      if (fs.readSync(fd, header, 0, 64, 0) !== 64) continue;
      if (header.readUInt32LE(0) !== kMagic || (header.readUInt32LE(8) & kFlagAttached) === 0) continue;
      const count = header.readUInt16LE(46);
      // The whole attach word, read before the /proc scan: the reaper trusts the scan only
      // while the word is unchanged (an open after the scan looked would be missed).
      const word = header.readBigUInt64LE(40);
      // Group/other bits: processes of other users may map it, and their maps are unreadable.
      // The creator's PID namespace (attach.h kPidNamespaceOffset): processes of another
      // namespace sharing /dev/shm are invisible in our /proc, so never judge theirs unmapped.
      const ns = header.readBigUInt64LE(48);
      const foreignNs = ownNs === 0n || ns !== ownNs;
      candidates.push({ name, ino: st.ino, count, word, shared: (st.mode & 0o077) !== 0, foreignNs });
    } catch {
      continue;
    } finally {
      fs.closeSync(fd);
    }
  }
  const mapped = candidates.some((c) => c.count !== 0) ? mappedInodes(dir, proc) : new Set<number>();
  const removed: string[] = [];
  for (const c of candidates) {
    // No trustworthy /proc (null): nobody is judged dead; only released or expired words go.
    const unmapped = mapped !== null && !c.shared && !c.foreignNs && !mapped.has(c.ino);
    if (binding.reapSegment(c.name, c.ino, unmapped, c.word) === 1) removed.push(c.name);
  }
  return { removed, kept: candidates.length - removed.length };
}

/**
 * Inodes of files on `dir`'s device that some live process maps (from /proc/<pid>/maps), or
 * null when `proc` cannot be trusted to show them: unreadable, or not showing this process
 * itself (mounted with hidepid for us, or the /proc of another PID namespace) - an empty set
 * there would call every live segment dead.
 */
export function mappedInodes(dir = '/dev/shm', proc = '/proc'): Set<number> | null {
  const inodes = new Set<number>();
  let dev: string;
  try {
    const d = fs.statSync(dir).dev;
    // st_dev -> "major:minor" as /proc/<pid>/maps prints it (hex, glibc makedev encoding).
    const major = (Math.floor(d / 256) & 0xfff) | (Math.floor(d / 2 ** 32) & ~0xfff);
    const minor = (d & 0xff) | (Math.floor(d / 4096) & ~0xff);
    dev = `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}`;
  } catch {
    return null;
  }
  let pids: string[];
  try {
    pids = fs.readdirSync(proc).filter((p) => /^\d+$/.test(p));
  } catch {
    return null;
  }
  const self = String(process.pid);
  if (!pids.includes(self)) return null;
  for (const pid of pids) {
    let maps: string;
    try {
      maps = fs.readFileSync(`${proc}/${pid}/maps`, 'latin1');
    } catch {
      if (pid === self) return null; // our own maps unreadable: nothing else can be trusted
      continue; // gone, or not ours to read
    }
    let at = maps.indexOf(` ${dev} `);
    while (at >= 0) {
      const start = at + dev.length + 2;
      const end = maps.indexOf(' ', start);
      const ino = Number(maps.slice(start, end));
      if (ino > 0) inodes.add(ino);
      at = maps.indexOf(` ${dev} `, end);
    }
  }
  return inodes;
}
