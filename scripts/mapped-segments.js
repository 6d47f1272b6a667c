// Names of the files in `dir` (default /dev/shm) that a live process has mapped, read from
// /proc/<pid>/maps: a segment in use. Used by clean-shm (remove only unused segments) and
// run-tap (never remove another program's live segment).
'use strict';
const fs = require('node:fs');

function mappedSegments(dir = '/dev/shm') {
  const mapped = new Set();
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
      if (at >= 0) mapped.add(line.slice(at + dir.length + 1).replace(/ \(deleted\)$/, ''));
    }
  }
  return mapped;
}

module.exports = { mappedSegments };
