'use strict';
// Lock hand-off to a waiter blocked in another process: the parent holds the lock, the child
// blocks trying to take it; once the child sleeps, the parent records a timestamp and releases;
// the child records when it got the lock. Latency = the child's stamp - the parent's stamp
// (process.hrtime.bigint() is CLOCK_MONOTONIC on Linux: comparable across processes).
const fs = require('node:fs');
const path = require('node:path');
const { defineGroup } = require('../lib/group');
const { peerInstalled, requirePeer } = require('../lib/competitor');
const { forkChild } = require('../lib/child');
const { shmsync } = require('../lib/shmsync');
const { benchName, unlinkName, guarded } = require('../lib/shm-names');
const { threadState, flockBlocked, untilBlocked } = require('../lib/blocked');

const kSync = 'Mutex hand-off, waiter in acquireSync()';
const kPromise = 'Mutex hand-off, waiter awaiting acquire()';

/**
 * `mode` 'sync' | 'promise' (how the child waits). The parent always holds with the blocking
 * API. `holder` = { lock(), unlock(), blocked(childPid) } for the lock kind.
 */
function handoff(kind, mode) {
  return (ctx) =>
    guarded(async (track) => {
      const name = benchName('handoff');
      track(() => unlinkName(name));
      const file = path.join(ctx.tmpdir, `handoff-${kind}-${mode}`);
      let holder;
      if (kind === 'mutex') {
        const m = new (shmsync().Mutex)(name, { create: 'create' });
        track(() => m.close());
        holder = {
          lock: () => m.acquireSync(),
          unlock: () => m.release(),
          waiting: () => m.info().waiters >= 1,
          close: () => m.close(),
        };
      } else {
        const fsExt = requirePeer('fs-ext');
        fs.writeFileSync(file, '');
        const fd = fs.openSync(file, 'r+');
        track(() => fs.closeSync(fd));
        holder = {
          lock: () => fsExt.flockSync(fd, 'ex'),
          unlock: () => fsExt.flockSync(fd, 'un'),
          waiting: null,
          close: () => fs.closeSync(fd),
        };
      }
      const child = await forkChild('mutex-peer.js', {
        env: { ...process.env, BENCH_LOCK: kind },
        cpu: ctx.pin ? 1 : undefined,
      });
      track(() => child.close().catch(() => child.kill()));
      const { pid } = await child.call('open', { name, file });
      // Asleep: counted as a waiter (shmsync) or listed as a blocked flock request, and for a
      // waiter that blocks its main thread, that thread is sleeping.
      const registered = kind === 'mutex' ? holder.waiting : () => flockBlocked(pid);
      const blocked = mode === 'sync' ? () => registered() && threadState(pid) === 'S' : registered;
      return {
        async run(n) {
          const latencies = new Float64Array(n);
          for (let i = 0; i < n; i++) {
            holder.lock();
            const got = child.call('waitLock', { mode });
            try {
              await untilBlocked(blocked, { what: `${kind} ${mode} waiter` });
            } catch (err) {
              holder.unlock();
              await got.catch(() => {});
              throw err;
            }
            const t0 = process.hrtime.bigint();
            holder.unlock();
            const { t1 } = await got;
            latencies[i] = Number(BigInt(t1) - t0);
          }
          return { latencies };
        },
        async teardown() {
          await child.close();
          holder.close();
          unlinkName(name);
        },
      };
    });
}

module.exports = defineGroup({
  name: 'lock-handoff',
  title: 'Lock hand-off to a waiter blocked in another process',
  metric: 'latency',
  unit: 'hand-off',
  notes:
    'Per op: the parent takes the lock, asks the child to take it, waits until the child sleeps (shmsync: info().waiters; flock: a blocked request in /proc/locks; sync waiters also: main thread in state S; then 50 µs), stamps and releases; the child stamps when it holds the lock. ops/s includes that set-up.',
  competitors: [
    { name: kSync, side: 'shmsync', setup: handoff('mutex', 'sync') },
    { name: kPromise, side: 'shmsync', setup: handoff('mutex', 'promise') },
    {
      name: 'flock hand-off, waiter in fs-ext flockSync()',
      side: 'peer',
      vs: kSync,
      available: () => peerInstalled('fs-ext'),
      setup: handoff('flock', 'sync'),
    },
    {
      name: 'flock hand-off, waiter in fs-ext flock() (threadpool)',
      side: 'peer',
      vs: kPromise,
      available: () => peerInstalled('fs-ext'),
      setup: handoff('flock', 'promise'),
    },
  ],
});
