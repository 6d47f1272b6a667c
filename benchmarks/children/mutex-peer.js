'use strict';
// The other process of the lock benchmarks (lock-contended, lock-handoff, lock-owner-death).
// The same commands exist for a shmsync Mutex and, as the peer, for flock(2) through fs-ext.
//
//   hammer   both processes lock + unlock one lock in a loop for a fixed time (after a start
//            barrier in shared memory), incrementing a shared non-atomic counter inside
//   waitLock block until the parent releases the lock; report when we got it (hrtime, ns)
//   hold     take the lock and keep it (the parent then SIGKILLs us)
const fs = require('node:fs');
const { promisify } = require('node:util');
const { serve } = require('../lib/serve');
const { shmsync } = require('../lib/shmsync');

const kind = process.env.BENCH_LOCK ?? 'mutex'; // 'mutex' | 'flock'
let lock = null;
let fsExt = null;
let fd = -1;
let counters = null; // Int32Array over the shared control segment
let control = null;

/** Int32 indexes of the control segment shared with the parent and the other hammerer. */
const kArrived = 0;
const kCounter = 1;

const now = () => process.hrtime.bigint();

function open({ name, file, controlName }) {
  if (kind === 'mutex') {
    lock = new (shmsync().Mutex)(name, { create: 'open' });
  } else {
    fsExt = require('fs-ext');
    fd = fs.openSync(file, 'r+'); // our own open file description: flock contends with the parent's
  }
  if (controlName) {
    control = new (shmsync().SharedMemory)(controlName, { create: 'open' });
    const b = control.buffer;
    counters = new Int32Array(b.buffer, b.byteOffset, 16);
  }
  return { pid: process.pid };
}

const lockSync = () => (kind === 'mutex' ? lock.acquireSync() : fsExt.flockSync(fd, 'ex'));
const unlockSync = () => (kind === 'mutex' ? lock.release() : fsExt.flockSync(fd, 'un'));

/** Both hammerers arrive, then each runs `durationMs` from the moment the other arrived. */
function hammer({ durationMs, parties = 2 }) {
  Atomics.add(counters, kArrived, 1);
  const giveUp = Date.now() + 10_000;
  while (Atomics.load(counters, kArrived) < parties) {
    if (Date.now() > giveUp) throw new Error('start barrier: the other process never arrived');
  }
  const t0 = now();
  const end = t0 + BigInt(Math.round(durationMs * 1e6));
  let count = 0;
  let t = t0;
  while (t < end) {
    for (let i = 0; i < 64; i++) {
      lockSync();
      counters[kCounter]++; // the trivial critical section: a non-atomic shared increment
      unlockSync();
    }
    count += 64;
    t = now();
  }
  return { count, elapsedNs: Number(t - t0) };
}

/** Blocks until the lock is ours; returns when that was (hrtime ns, as a string). */
async function waitLock({ mode }) {
  let t1;
  if (kind === 'mutex') {
    if (mode === 'promise') {
      const guard = await lock.acquire();
      t1 = now();
      guard.release();
    } else {
      lock.acquireSync();
      t1 = now();
      lock.release();
    }
  } else if (mode === 'promise') {
    const flock = promisify(fsExt.flock);
    await flock(fd, 'ex');
    t1 = now();
    fsExt.flockSync(fd, 'un');
  } else {
    fsExt.flockSync(fd, 'ex');
    t1 = now();
    fsExt.flockSync(fd, 'un');
  }
  return { t1: String(t1) };
}

/** Takes the lock and keeps it: the parent kills us while we hold it. */
function hold() {
  lock.acquireSync();
  return { held: true };
}

serve({
  info: { kind },
  commands: { open, hammer, waitLock, hold },
  close() {
    if (lock) lock.close();
    if (control) control.close();
    if (fd >= 0) fs.closeSync(fd);
  },
});
