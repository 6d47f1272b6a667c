'use strict';
// A process holding the lock is SIGKILLed: how long until the next acquirer holds it (with
// ownerDied)? Per op: a fresh child takes the lock and says so; the parent stamps, kill()s it,
// and stamps again when its own acquire returns.
const { defineGroup } = require('../lib/group');
const { forkChild } = require('../lib/child');
const { shmsync } = require('../lib/shmsync');
const { benchName, unlinkName, guarded } = require('../lib/shm-names');
const { untilBlocked } = require('../lib/blocked');

const kSettleMs = 20;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const kSync = 'Mutex: kill() holder, then acquireSync()';
const kPromise = 'Mutex: kill() holder, acquire() already waiting';

/**
 * `mode` 'sync': kill, then a blocking acquireSync() (it finds the holder dead or waits for the
 * kernel to finish the exit). 'promise': the parent is already parked in acquire() when the
 * holder is killed (the waiting acquirer's view).
 */
function ownerDeath(mode) {
  return (ctx) =>
    guarded(async (track) => {
      const name = benchName('owner-death');
      track(() => unlinkName(name));
      const m = new (shmsync().Mutex)(name, { create: 'create' });
      track(() => m.close());
      const live = new Set();
      track(() => Promise.all([...live].map((c) => c.kill())));
      const env = { ...process.env, BENCH_LOCK: 'mutex' };
      const spawnHolder = async () => {
        const c = await forkChild('mutex-peer.js', { env, cpu: ctx.pin ? 1 : undefined });
        live.add(c);
        await c.call('open', { name });
        return c;
      };
      const perSample = ctx.quick ? 2 : 10; // 100 ops in a full run: p99 is not just the maximum
      return {
        fixedN: perSample,
        async run(n) {
          const latencies = new Float64Array(n);
          for (let i = 0; i < n; i++) {
            // One holder at a time, started before the clock and given a moment to go quiet:
            // children still starting up would compete for the 2 CPUs with what is measured.
            const c = await spawnHolder();
            try {
              await sleep(kSettleMs);
              await c.call('hold');
              let ownerDied;
              if (mode === 'sync') {
                const t0 = process.hrtime.bigint();
                const exited = c.kill('SIGKILL');
                m.acquireSync();
                latencies[i] = Number(process.hrtime.bigint() - t0);
                ownerDied = m.ownerDied;
                m.release();
                await exited;
              } else {
                let t1 = 0n;
                const acquired = m.acquire().then((g) => {
                  t1 = process.hrtime.bigint();
                  return g;
                });
                await untilBlocked(() => m.info().waiters >= 1, { what: 'parked acquire()' });
                const t0 = process.hrtime.bigint();
                const exited = c.kill('SIGKILL');
                const guard = await acquired;
                latencies[i] = Number(t1 - t0);
                ownerDied = guard.ownerDied;
                guard.release();
                await exited;
              }
              if (!ownerDied) throw new Error('the acquire after the kill did not report ownerDied');
            } finally {
              await c.kill();
              live.delete(c);
            }
          }
          return { latencies };
        },
        async teardown() {
          await Promise.all([...live].map((c) => c.kill()));
          m.close();
          unlinkName(name);
        },
      };
    });
}

module.exports = defineGroup({
  name: 'lock-owner-death',
  title: 'Holder SIGKILLed: time until the next acquirer holds the lock',
  metric: 'latency',
  unit: 'recovery',
  notes:
    'Per op a fresh child process (started before the clock, one at a time, 20 ms to settle) takes the Mutex and is SIGKILLed; latency = from kill() to the parent holding the lock with ownerDied (its acquire in the same process as kill(), so one clock). ops/s includes starting the children. proper-lockfile has no owner-death detection: a lock is taken over only once it is older than `stale` (default 10 s, minimum 5 s).',
  competitors: [
    { name: kSync, side: 'shmsync', setup: ownerDeath('sync') },
    { name: kPromise, side: 'shmsync', setup: ownerDeath('promise') },
    {
      name: 'proper-lockfile, stale: 5000 (its minimum)',
      side: 'peer',
      vs: [kSync, kPromise],
      documented: {
        p50Ns: 5e9,
        p99Ns: 5e9,
        source:
          "documented, not measured (constant 5 000 ms = its minimum `stale`). proper-lockfile cannot see a holder die: another process takes the lock over only when the lockfile mtime is older than `stale` (default 10 000 ms, minimum 5 000 ms), i.e. stale − update (update defaults to stale/2) to stale after the death, plus the acquirer's retry delay",
      },
    },
  ],
});
