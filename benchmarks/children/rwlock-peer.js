'use strict';
// One of the 4 processes of the web-locks group's throughput rows: each loops one lock mode for
// a fixed time after a start barrier in shared memory, and reports how many acquisitions it made.
//   BENCH_RW = 'shared'    RwLock acquireSharedSync() + release()
//              'exclusive' RwLock acquireExclusiveSync() + release() (+ a shared non-atomic counter)
//              'flock-sh'  fs-ext flockSync(fd, 'sh') + flockSync(fd, 'un') (LOCK_SH, the peer)
const fs = require('node:fs');
const { serve } = require('../lib/serve');
const { shmsync } = require('../lib/shmsync');

const kind = process.env.BENCH_RW ?? 'shared';
let rw = null;
let fsExt = null;
let fd = -1;
let control = null;
let counters = null;

const kArrived = 0;
const kCounter = 1;

function open({ name, file, controlName }) {
  if (kind === 'flock-sh') {
    fsExt = require('fs-ext');
    fd = fs.openSync(file, 'r'); // our own open file description
  } else {
    rw = new (shmsync().RwLock)(name, { create: 'open' });
  }
  control = new (shmsync().SharedMemory)(controlName, { create: 'open' });
  counters = new Int32Array(control.buffer.buffer, control.buffer.byteOffset, 16);
  return { pid: process.pid };
}

function loop64() {
  if (kind === 'shared') {
    for (let i = 0; i < 64; i++) {
      rw.acquireSharedSync();
      rw.release();
    }
  } else if (kind === 'exclusive') {
    for (let i = 0; i < 64; i++) {
      rw.acquireExclusiveSync();
      counters[kCounter]++; // checked by the parent: exclusive holds never overlap
      rw.release();
    }
  } else {
    for (let i = 0; i < 64; i++) {
      fsExt.flockSync(fd, 'sh');
      fsExt.flockSync(fd, 'un');
    }
  }
}

/** All `parties` arrive (spin on the control segment), then each loops for `durationMs`. */
function hammer({ durationMs, parties }) {
  Atomics.add(counters, kArrived, 1);
  const giveUp = Date.now() + 10_000;
  while (Atomics.load(counters, kArrived) < parties) {
    if (Date.now() > giveUp) throw new Error('start barrier: another process never arrived');
  }
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(Math.round(durationMs * 1e6));
  let count = 0;
  let t = t0;
  while (t < end) {
    loop64();
    count += 64;
    t = process.hrtime.bigint();
  }
  return { count, elapsedNs: Number(t - t0) };
}

serve({
  info: { kind },
  commands: { open, hammer },
  close() {
    if (rw) rw.close();
    if (control) control.close();
    if (fd >= 0) fs.closeSync(fd);
  },
});
