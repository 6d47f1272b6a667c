// Names of the files in `dir` (default /dev/shm) that a live process has mapped, read from
// /proc/<pid>/maps: a segment in use. Used by clean-shm (remove only unused segments) and
// run-tap (never remove another program's live segment).
//
// Matched by inode, not only by the path in maps: a segment is created as `shmsync.tmp-*`, mapped,
// then published under its name, so maps shows the temporary name "(deleted)" for a live,
// published segment. Matching names alone called every such segment unused, and one helper's
// run-tap removed the live locks and queues of every concurrent run.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

function mappedSegments(dir = '/dev/shm') {
  const mapped = new Set();
  const inodes = new Set();
  let pids = [];
  try {
    pids = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return mapped;
  }
  for (const pid of pids) {
    let maps;
    try {
      maps = fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
    } catch {
      continue; // gone, or not ours to read
    }
    for (const line of maps.split('\n')) {
      const at = line.indexOf(`${dir}/`);
      if (at < 0) continue;
      mapped.add(line.slice(at + dir.length + 1).replace(/ \(deleted\)$/, ''));
      // Fields: address perms offset dev inode path.
      const inode = line.split(/\s+/)[4];
      if (inode !== undefined && /^\d+$/.test(inode)) inodes.add(inode);
    }
  }
  let names = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return mapped;
  }
  for (const name of names) {
    try {
      if (inodes.has(String(fs.statSync(path.join(dir, name)).ino))) mapped.add(name);
    } catch {
      // removed meanwhile
    }
  }
  return mapped;
}

module.exports = { mappedSegments };
