// Which files of a directory (default /dev/shm) a live process uses, judged by the file's
// identity (device + inode), never by its path: a creator maps its segment before publishing it,
// as an unnamed file (`/dev/shm/#<inode> (deleted)` in /proc/PID/maps), so a
// path comparison calls a segment only its creator uses "unused". Sources: /proc/PID/maps and
// /proc/PID/fd. The `shmsync` command does the same in src/cli/proc.ts (TypeScript, shipped);
// this copy serves the repository scripts (clean-shm, run-tap), which run without a build.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

/** `major:minor` (hex) as /proc/PID/maps prints it -> st_dev as stat() reports it (glibc makedev). */
function devFromMaps(field) {
  const m = /^([0-9a-f]+):([0-9a-f]+)$/i.exec(field);
  if (m === null) return null;
  const major = BigInt(`0x${m[1]}`);
  const minor = BigInt(`0x${m[2]}`);
  return ((major & 0xfffff000n) << 32n) | ((major & 0xfffn) << 8n) | ((minor & 0xffffff00n) << 12n) | (minor & 0xffn);
}

/** Map of "dev:ino" -> Set of pids that map or hold open a file on device `dev`. */
function usedIdentities(dir, dev) {
  const used = new Map();
  const add = (key, pid) => {
    if (!used.has(key)) used.set(key, new Set());
    used.get(key).add(pid);
  };
  let pids;
  try {
    pids = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return used;
  }
  for (const pid of pids) {
    let maps;
    try {
      maps = fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
    } catch {
      continue; // gone, or not ours to read
    }
    for (const line of maps.split('\n')) {
      const f = line.split(/\s+/, 6);
      if (f.length < 5 || f[4] === '0') continue;
      const d = devFromMaps(f[3]);
      if (d !== null && d === dev) add(`${d}:${f[4]}`, Number(pid));
    }
    let fds;
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (!fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(`${dir}/`)) continue;
        const st = fs.statSync(`/proc/${pid}/fd/${fd}`, { bigint: true });
        if (st.dev === dev) add(`${st.dev}:${st.ino}`, Number(pid));
      } catch {
        // closed meanwhile
      }
    }
  }
  return used;
}

/**
 * Map of file name (in `dir`) -> Set of pids using it, for the files a live process maps or
 * holds open. Only names present in `dir` now are keys.
 */
function segmentUsers(dir = '/dev/shm') {
  const out = new Map();
  let dev;
  let names;
  try {
    dev = fs.statSync(dir, { bigint: true }).dev;
    names = fs.readdirSync(dir);
  } catch {
    return out;
  }
  const used = usedIdentities(dir, dev);
  for (const name of names) {
    try {
      const st = fs.lstatSync(path.join(dir, name), { bigint: true });
      const pids = used.get(`${st.dev}:${st.ino}`);
      if (pids) out.set(name, pids);
    } catch {
      // removed meanwhile
    }
  }
  return out;
}

/** The identity ("dev:ino") of a file now, or null if it is gone: re-checked before unlink. */
function identityOf(file) {
  try {
    const st = fs.lstatSync(file, { bigint: true });
    return `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}

module.exports = { segmentUsers, usedIdentities, devFromMaps, identityOf };
