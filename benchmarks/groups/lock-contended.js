'use strict';
// Two processes hammer one lock for a fixed time (lock, increment a shared counter, unlock):
// acquisitions per second in total, per process, and how evenly they were shared.
const fs = require('node:fs');
const path = require('node:path');
const { defineGroup } = require('../lib/group');
const { peerInstalled } = require('../lib/competitor');
const { forkChild } = require('../lib/child');
const { shmsync } = require('../lib/shmsync');
const { benchName, unlinkName, guarded } = require('../lib/shm-names');
const fmt = require('../lib/format');

const kMutex = 'Mutex, 2 processes, acquireSync()+release()';

/**
 * Two children of children/mutex-peer.js (`BENCH_LOCK` = kind) share one lock and a control
 * segment (start barrier + the shared counter). One sample = both hammer for `durationMs`.
 */
function twoProcesses(kind) {
  return (ctx) =>
    guarded(async (track) => {
      const { SharedMemory, Mutex } = shmsync();
      const lockName = benchName('contended');
      const controlName = benchName('contended-ctl');
      track(() => unlinkName(lockName));
      track(() => unlinkName(controlName));
      const control = new SharedMemory(controlName, { size: 64, create: 'create' });
      track(() => control.close());
      const i32 = new Int32Array(control.buffer.buffer, control.buffer.byteOffset, 16);
      let mutex = null;
      const file = path.join(ctx.tmpdir, `contended-${kind}`);
      if (kind === 'mutex') {
        mutex = new Mutex(lockName, { create: 'create' });
        track(() => mutex.close());
      } else {
        fs.writeFileSync(file, '');
      }
      const env = { ...process.env, BENCH_LOCK: kind };
      const children = [];
      track(() => Promise.all(children.map((c) => c.close().catch(() => c.kill()))));
      for (let i = 0; i < 2; i++) {
        // Unpinned: pinned, both would share CPU 1 and take turns by time slice.
        children.push(await forkChild('mutex-peer.js', { env }));
      }
      for (const c of children) await c.call('open', { name: lockName, file, controlName });
      const durationMs = ctx.sampleTimeMs;
      return {
        fixedN: 1,
        async run() {
          Atomics.store(i32, 0, 0);
          const before = i32[1];
          const [a, b] = await Promise.all(children.map((c) => c.call('hammer', { durationMs })));
          const total = a.count + b.count;
          if (i32[1] - before !== total) {
            throw new Error(`mutual exclusion broken: shared counter +${i32[1] - before}, acquisitions ${total}`);
          }
          const elapsedNs = Math.max(a.elapsedNs, b.elapsedNs);
          const rateA = (a.count * 1e9) / a.elapsedNs;
          const rateB = (b.count * 1e9) / b.elapsedNs;
          return {
            elapsedNs,
            ops: total,
            extra: {
              perProcessLow: Math.min(rateA, rateB),
              perProcessHigh: Math.max(rateA, rateB),
              minShare: Math.min(a.count, b.count) / total,
              maxShare: Math.max(a.count, b.count) / total,
            },
          };
        },
        async teardown() {
          await Promise.all(children.map((c) => c.close()));
          if (mutex) mutex.close();
          control.close();
          unlinkName(lockName);
          unlinkName(controlName);
        },
      };
    });
}

/** "per process 1.2 M/s + 1.1 M/s; share min 0.48 / max 0.52 (worst sample 0.31)" */
function shareDetail(r) {
  const x = r.extra;
  return (
    `per process ${fmt.rate(x.perProcessLow.median)} (slower) / ${fmt.rate(x.perProcessHigh.median)} (faster); ` +
    `share of acquisitions min ${x.minShare.median.toFixed(2)} / max ${x.maxShare.median.toFixed(2)} ` +
    `(median of samples; most uneven sample ${x.minShare.min.toFixed(2)} / ${x.maxShare.max.toFixed(2)})`
  );
}

module.exports = defineGroup({
  name: 'lock-contended',
  title: 'Two processes contending for one lock, fixed time',
  metric: 'throughput',
  unit: 'acquisition',
  columns: { 'msgs/s': 'acquisitions/s', 'time/msg': 'time/acq', 'samples × msgs': 'samples × acquisitions' },
  notes:
    'Two child processes lock, increment a shared non-atomic counter, unlock, in a loop for the sample time each (start barrier in shared memory); the counter is checked against the acquisitions. acquisitions/s: both processes together.',
  competitors: [
    { name: kMutex, side: 'shmsync', setup: twoProcesses('mutex'), detail: shareDetail },
    {
      name: 'fs-ext flockSync() ex+un, 2 processes',
      side: 'peer',
      available: () => peerInstalled('fs-ext'),
      setup: twoProcesses('flock'),
      detail: shareDetail,
    },
  ],
});
