// Names of the files in `dir` (default /dev/shm) that a live process maps or holds open: a
// segment in use. Judged by the file's identity (device + inode), not its path: see
// segment-users.js. Used by clean-shm (remove only unused segments) and run-tap (never remove
// another program's live segment).
'use strict';
const { segmentUsers } = require('./segment-users');

function mappedSegments(dir = '/dev/shm') {
  return new Set(segmentUsers(dir).keys());
}

module.exports = { mappedSegments };
