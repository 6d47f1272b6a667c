/**
 * Which live processes use a file, judged by the file's identity (device + inode), never by its
 * path: a creator maps its segment before publishing it, as an unnamed file
 * (`/dev/shm/#<inode> (deleted)` in /proc/PID/maps; `shmsync.tmp-…` on the fallback path), and a renamed or re-created name is
 * another file. Sources: /proc/PID/maps (mappings) and /proc/PID/fd (open descriptors, e.g. a
 * creator between shm_open and mmap). Reads /proc only; runs in the `shmsync` command.
 */
import * as fs from 'node:fs';

/** `major:minor` in hex as /proc/PID/maps prints it -> the st_dev value stat() reports (glibc makedev). */
export function devFromMaps(field: string): bigint | null {
  const m = /^([0-9a-f]+):([0-9a-f]+)$/i.exec(field);
  if (m === null) return null;
  const major = BigInt(`0x${m[1]}`);
  const minor = BigInt(`0x${m[2]}`);
  return ((major & 0xfffff000n) << 32n) | ((major & 0xfffn) << 8n) | ((minor & 0xffffff00n) << 12n) | (minor & 0xffn);
}

export const identityKey = (dev: bigint, ino: bigint): string => `${dev}:${ino}`;

export interface ProcessUse {
  pid: number;
  comm: string;
  how: 'map' | 'fd';
}

export interface UsersIndex {
  /** identity key -> processes mapping it or holding it open. */
  users: Map<string, ProcessUse[]>;
  /** Processes whose maps this user may not read: their use is unknown. */
  unreadable: number[];
}

/**
 * Scans every process. `dirDev` restricts the index to files on that device (the /dev/shm
 * tmpfs), which keeps it small.
 */
export function scanUsers(dir: string, dirDev: bigint | null, self: number = process.pid): UsersIndex {
  const users = new Map<string, ProcessUse[]>();
  const unreadable: number[] = [];
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return { users, unreadable };
  }
  const add = (key: string, use: ProcessUse): void => {
    const list = users.get(key);
    if (list === undefined) users.set(key, [use]);
    else if (!list.some((u) => u.pid === use.pid)) list.push(use);
  };
  for (const p of pids) {
    const pid = Number(p);
    if (pid === self) continue; // this command reads with pread; it maps nothing
    let maps: string;
    try {
      maps = fs.readFileSync(`/proc/${p}/maps`, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ESRCH')
        unreadable.push(pid);
      continue; // gone meanwhile, or another user's
    }
    let comm = '';
    const commOf = (): string => {
      if (comm === '') {
        try {
          comm = fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim();
        } catch {
          comm = '?';
        }
      }
      return comm;
    };
    for (const line of maps.split('\n')) {
      // address perms offset dev inode [path]
      const f = line.split(/\s+/, 6);
      if (f.length < 5 || f[4] === '0') continue;
      const dev = devFromMaps(f[3]);
      if (dev === null || (dirDev !== null && dev !== dirDev)) continue;
      add(identityKey(dev, BigInt(f[4])), { pid, comm: commOf(), how: 'map' });
    }
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${p}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (!fs.readlinkSync(`/proc/${p}/fd/${fd}`).startsWith(`${dir}/`)) continue;
        const st = fs.statSync(`/proc/${p}/fd/${fd}`, { bigint: true });
        if (dirDev !== null && st.dev !== dirDev) continue;
        add(identityKey(st.dev, st.ino), { pid, comm: commOf(), how: 'fd' });
      } catch {
        // closed meanwhile
      }
    }
  }
  return { users, unreadable };
}
