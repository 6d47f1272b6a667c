// Names of the files in `dir` (default /dev/shm) that a live process has mapped, read from
// /proc/<pid>/maps: a segment in use. Used by clean-shm (remove only unused segments).
//
// Matched by inode, not by the path in maps: a segment's creator maps it under its private
// staging name before link() publishes it (native/core/shm-region.cc), so the creator's maps
// show `/dev/shm/shmsync.tmp-... (deleted)`, never the public name.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

/** readdirSync, or [] when the directory cannot be read. */
function list(dir) {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function mappedSegments(dir = '/dev/shm') {
  const inodes = new Set();
  for (const pid of list('/proc').filter((d) => /^\d+$/.test(d))) {
    let maps;
    try {
      maps = fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
    } catch {
      continue; // gone, or not ours to read
    }
    for (const line of maps.split('\n')) {
      if (!line.includes(`${dir}/`)) continue;
      // address perms offset dev inode path
      const inode = line.split(/\s+/, 6)[4];
      if (inode !== undefined && inode !== '0') inodes.add(inode);
    }
  }
  const mapped = new Set();
  for (const name of list(dir)) {
    try {
      if (inodes.has(String(fs.statSync(path.join(dir, name)).ino))) mapped.add(name);
    } catch {
      // removed meanwhile
    }
  }
  return mapped;
}

module.exports = { mappedSegments };
