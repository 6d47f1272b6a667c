// Inodes of the files in `dir` (default /dev/shm) that a live process has mapped, from
// /proc/<pid>/maps (device "major:minor" and inode columns). A segment is judged by its inode,
// not its path: a creator maps its segment under the temporary name it was published from
// (`/dev/shm/shmsync.tmp-... (deleted)`), so a path check calls every creator's segment unused.
// Same logic as src/core/lifetime.ts mappedInodes (the scripts do not load dist/).
'use strict';
const fs = require('node:fs');

function deviceString(dev) {
  // st_dev -> "major:minor" as /proc/<pid>/maps prints it (hex, glibc makedev encoding).
  const major = (Math.floor(dev / 256) & 0xfff) | (Math.floor(dev / 2 ** 32) & ~0xfff);
  const minor = (dev & 0xff) | (Math.floor(dev / 4096) & ~0xff);
  return `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}`;
}

function mappedInodes(dir = '/dev/shm') {
  const inodes = new Set();
  let dev;
  try {
    dev = deviceString(fs.statSync(dir).dev);
  } catch {
    return inodes;
  }
  let pids = [];
  try {
    pids = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return inodes;
  }
  const needle = ` ${dev} `;
  for (const pid of pids) {
    let maps;
    try {
      maps = fs.readFileSync(`/proc/${pid}/maps`, 'latin1');
    } catch {
      continue; // gone, or not ours to read
    }
    for (let at = maps.indexOf(needle); at >= 0; at = maps.indexOf(needle, at + needle.length)) {
      const start = at + needle.length;
      const ino = Number(maps.slice(start, maps.indexOf(' ', start)));
      if (ino > 0) inodes.add(ino);
    }
  }
  return inodes;
}

/** Whether `dir/name` is mapped by a live process (by inode); false if it is gone. */
function isMappedByInode(dir, name, inodes) {
  try {
    return inodes.has(fs.statSync(`${dir}/${name}`).ino);
  } catch {
    return false;
  }
}

module.exports = { mappedInodes, isMappedByInode };
