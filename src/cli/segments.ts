/**
 * Finds and reads shmsync segments without changing them: open O_RDONLY, fstat, pread the header
 * and the state words. Never maps, never locks, never writes. Every byte is untrusted: a
 * segment that does not decode is returned with status 'corrupt' and the reason.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeHeader, kHeaderSize, type Header, type SegmentKind } from './decode/header';
import { decodeMutexState, kMutexStateSize, type MutexWords } from './decode/mutex';
import { decodeOwnerTable, kOwnerTablePayloadSize, resolveOwner, type OwnerTable } from './decode/owners';
import { decodeRing, kRingStateSize, type RingWords } from './decode/queue';
import { decodeRaw, type RawInfo } from './decode/raw';
import { identityKey, scanUsers, type ProcessUse, type UsersIndex } from './proc';

export const kPrefix = 'shmsync-';
export const kTmpPrefix = 'shmsync.tmp-';

export function shmDir(): string {
  return process.env.SHMSYNC_SHM_DIR || '/dev/shm';
}

export type ObjectKind = SegmentKind | 'value' | 'array' | 'tmp' | 'unknown';

export interface Holder {
  ownerId: number;
  pid: number | null;
  tid: number | null;
  threadId: number | null;
  /** true/false from the owner table; null when no readable table has this lock's id. */
  alive: boolean | null;
}

export interface LockView extends MutexWords {
  holder: Holder | null;
}

export interface ShmObject {
  /** Logical name (file name without `shmsync-`); the file name for temporary segments. */
  name: string;
  file: string;
  kind: ObjectKind;
  status: 'ok' | 'corrupt' | 'unpublished';
  problem: string | null;
  size: number;
  uid: number;
  mode: number;
  mtimeMs: number;
  dev: bigint;
  ino: bigint;
  header: Header | null;
  users: ProcessUse[];
  lock?: LockView;
  ring?: Omit<RingWords, 'producerLock' | 'consumerLock'> & {
    producerLock: LockView | null;
    consumerLock: LockView | null;
  };
  owners?: { tableId: bigint; live: OwnerTable['live']; dead: number };
  raw?: RawInfo;
  /** Private: the decoded owner table, to resolve holders. */
  table?: OwnerTable;
  /**
   * Private: the payload bytes the state above was decoded from (one pread), so `inspect`
   * dumps exactly what it decoded instead of reading the file a second time.
   */
  stateBytes?: Buffer;
}

export interface Scan {
  dir: string;
  objects: ShmObject[];
  /** Segments this user cannot read (names only). */
  unreadable: string[];
  /** Processes whose maps this user cannot read. */
  unscannedProcesses: number;
}

export const isShmsyncFile = (n: string): boolean => n.startsWith(kPrefix) || n.startsWith(kTmpPrefix);

export function logicalName(file: string): string {
  return file.startsWith(kPrefix) ? file.slice(kPrefix.length) : file;
}

/** NAME as the user typed it: a logical name, a `shmsync-…` file name, or a path in the dir. */
export function fileFor(dir: string, name: string): string {
  const base = name.startsWith(`${dir}/`) ? name.slice(dir.length + 1) : name;
  return isShmsyncFile(base) ? base : kPrefix + base;
}

function preadFull(fd: number, length: number, position: number): Buffer {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buf, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done === length ? buf : buf.subarray(0, done);
}

/** Reads one segment. Returns null when it vanished or is not readable (EACCES). */
export function readSegment(dir: string, file: string): ShmObject | 'unreadable' | null {
  let fd: number;
  try {
    fd = fs.openSync(path.join(dir, file), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    return 'unreadable';
  }
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    const obj: ShmObject = {
      name: logicalName(file),
      file,
      kind: 'unknown',
      status: 'ok',
      problem: null,
      size: Number(st.size),
      uid: Number(st.uid),
      mode: Number(st.mode & 0o7777n),
      mtimeMs: Number(st.mtimeMs),
      dev: st.dev,
      ino: st.ino,
      header: null,
      users: [],
    };
    const corrupt = (problem: string): ShmObject => Object.assign(obj, { status: 'corrupt' as const, problem });
    if (!st.isFile()) return corrupt('not a regular file');
    if (file.startsWith(kTmpPrefix)) {
      obj.kind = 'tmp';
      obj.status = 'unpublished';
      return obj;
    }
    const h = decodeHeader(preadFull(fd, kHeaderSize, 0), obj.size);
    obj.header = h.header;
    if (h.header?.kind) obj.kind = h.header.kind;
    if (h.problem !== null || h.header === null) {
      // What follows the header, for inspect's dump (sizes from the file, never the header).
      if (obj.size > kHeaderSize)
        obj.stateBytes = preadFull(fd, Math.min(kRingStateSize, obj.size - kHeaderSize), kHeaderSize);
      return corrupt(h.problem ?? 'no header');
    }
    const payloadSize = h.header.payloadSize;
    const payload = (n: number): Buffer => preadFull(fd, Math.min(n, payloadSize), kHeaderSize);
    switch (h.header.kind) {
      case 'mutex': {
        if (payloadSize < kMutexStateSize) return corrupt(`mutex payload of ${payloadSize} bytes`);
        const bytes = payload(kMutexStateSize);
        obj.stateBytes = bytes;
        const m = decodeMutexState(bytes);
        if (m.state !== null) obj.lock = { ...m.state, holder: null };
        if (m.problem !== null) return corrupt(m.problem);
        break;
      }
      case 'queue': {
        if (payloadSize < kRingStateSize) return corrupt(`queue payload of ${payloadSize} bytes`);
        const bytes = payload(kRingStateSize);
        obj.stateBytes = bytes;
        const q = decodeRing(bytes, payloadSize);
        if (q.ring !== null) {
          const lock = (w: MutexWords | null): LockView | null => (w === null ? null : { ...w, holder: null });
          obj.ring = { ...q.ring, producerLock: lock(q.ring.producerLock), consumerLock: lock(q.ring.consumerLock) };
        }
        if (q.problem !== null) return corrupt(q.problem);
        break;
      }
      case 'owners': {
        const bytes = payload(kOwnerTablePayloadSize);
        obj.stateBytes = bytes;
        const t = decodeOwnerTable(bytes);
        if (t.table === null) return corrupt(t.problem ?? 'bad owner table');
        obj.table = t.table;
        obj.owners = { tableId: t.table.tableId, live: t.table.live, dead: t.table.dead };
        break;
      }
      case 'raw': {
        const bytes = payload(256);
        obj.stateBytes = bytes;
        const r = decodeRaw(bytes, payloadSize);
        obj.raw = r.raw;
        if (r.raw.holds !== 'memory') obj.kind = r.raw.holds;
        if (r.problem !== null) return corrupt(r.problem);
        break;
      }
      default:
        obj.stateBytes = payload(64);
    }
    return obj;
  } catch (err) {
    return Object.assign(readFallback(dir, file), {
      status: 'corrupt' as const,
      problem: `read failed: ${(err as Error).message}`,
    });
  } finally {
    fs.closeSync(fd);
  }
}

function readFallback(dir: string, file: string): ShmObject {
  return {
    name: logicalName(file),
    file,
    kind: 'unknown',
    status: 'corrupt',
    problem: null,
    size: 0,
    uid: -1,
    mode: 0,
    mtimeMs: 0,
    dev: 0n,
    ino: 0n,
    header: null,
    users: [],
  };
}

/** Resolves lock holders through the owner table whose id each lock records. */
function resolveHolders(objects: ShmObject[]): void {
  const tables = new Map<bigint, OwnerTable>();
  for (const o of objects) if (o.table !== undefined) tables.set(o.table.tableId, o.table);
  const resolve = (l: LockView | null | undefined): void => {
    if (l == null || l.ownerId === 0) return;
    const t = tables.get(l.ownerTableId);
    const r = t === undefined ? null : resolveOwner(t, l.ownerId);
    l.holder =
      r === null
        ? { ownerId: l.ownerId, pid: null, tid: null, threadId: null, alive: null }
        : { ownerId: l.ownerId, ...r };
  };
  for (const o of objects) {
    resolve(o.lock);
    resolve(o.ring?.producerLock);
    resolve(o.ring?.consumerLock);
  }
}

/** Every shmsync segment of the directory (optionally only those matching `patterns`). */
export function scan(options: { patterns?: string[]; users?: boolean } = {}): Scan {
  const dir = shmDir();
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter(isShmsyncFile).sort();
  } catch (err) {
    throw new Error(`cannot list ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const matchers = (options.patterns ?? []).map(globToRegExp);
  const wanted = (file: string): boolean =>
    matchers.length === 0 || matchers.some((re) => re.test(file) || re.test(logicalName(file)));
  const objects: ShmObject[] = [];
  const unreadable: string[] = [];
  // Owner tables are read even when filtered out: holders are resolved through them.
  for (const file of names) {
    const isWanted = wanted(file);
    const o = readSegment(dir, file);
    if (o !== null && o !== 'unreadable' && !isWanted && o.kind !== 'owners') continue;
    if (o === null) continue;
    if (o === 'unreadable') {
      if (isWanted) unreadable.push(file);
      continue;
    }
    objects.push(o);
  }
  resolveHolders(objects);
  const shown = objects.filter((o) => wanted(o.file));
  let unscanned = 0;
  if (options.users !== false) {
    let dirDev: bigint | null = null;
    try {
      dirDev = fs.statSync(dir, { bigint: true }).dev;
    } catch {
      /* keep null */
    }
    const index: UsersIndex = scanUsers(dir, dirDev);
    for (const o of shown) o.users = index.users.get(identityKey(o.dev, o.ino)) ?? [];
    unscanned = index.unreadable.length;
  }
  for (const o of shown) delete o.table;
  return { dir, objects: shown, unreadable, unscannedProcesses: unscanned };
}

/** `*` matches any run of characters, `?` one; everything else is literal. */
export function globToRegExp(pattern: string): RegExp {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`);
}
