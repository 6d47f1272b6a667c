'use strict';
// A trivial task through a warm worker pool, one at a time: submit, await the result.
const path = require('node:path');
const { defineGroup } = require('../lib/group');
const { requirePeer, timedOps } = require('../lib/competitor');
const { childrenDir } = require('../lib/child');
const { shmsync } = require('../lib/shmsync');

const kTask = path.join(childrenDir, 'pool-task.js');
const poolName = (size, mode) => `pcall through a warm ProcessPool, size ${size}, ${mode} mode`;

/** One pcall of a trivial target per op on a warm ProcessPool (every child started first). */
function shmPool(size, mode) {
  return async () => {
    const { ProcessPool, pcall } = shmsync();
    const pool = new ProcessPool({ size, mode });
    try {
      const task = (x) => x;
      // Warm every child (and the target cache in it): `size` calls at once.
      await pcall(task, { iargs: Array.from({ length: size }, (_, i) => [i]), pool });
      return {
        run: timedOps(async (i) => {
          const [r] = await pcall(task, { iargs: [[i]], pool });
          if (r !== i) throw new Error(`pcall returned ${r}, expected ${i}`);
        }),
        teardown: () => pool.close(),
      };
    } catch (err) {
      await pool.destroy();
      throw err;
    }
  };
}

module.exports = defineGroup({
  name: 'pool-rtt',
  title: 'Warm pool, sequential task round trip',
  metric: 'latency',
  unit: 'task',
  notes:
    'Tasks submitted one after another (each awaits the previous result); ops/s is the sequential rate. Peers have one worker; the shmsync pool is measured with 1 and 2 children (a sequential caller uses one at a time). shmsync: `pcall((x) => x, { iargs: [[i]], pool })` - the target function travels with every call.',
  competitors: [
    { name: poolName(1, 'process'), side: 'shmsync', setup: shmPool(1, 'process') },
    { name: poolName(2, 'process'), side: 'shmsync', setup: shmPool(2, 'process') },
    { name: poolName(1, 'thread'), side: 'shmsync', setup: shmPool(1, 'thread') },
    { name: poolName(2, 'thread'), side: 'shmsync', setup: shmPool(2, 'thread') },
    {
      name: 'piscina (worker thread)',
      side: 'peer',
      vs: [poolName(1, 'thread'), poolName(2, 'thread')],
      async setup() {
        const { Piscina } = requirePeer('piscina');
        const pool = new Piscina({ filename: kTask, minThreads: 1, maxThreads: 1, idleTimeout: 60_000 });
        await pool.run(0); // start the worker before timing
        return { run: timedOps((i) => pool.run(i)), teardown: () => pool.destroy() };
      },
    },
    {
      name: 'tinypool (child_process)',
      side: 'peer',
      vs: [poolName(1, 'process'), poolName(2, 'process')],
      async setup() {
        requirePeer('tinypool');
        const { Tinypool } = await import('tinypool');
        const pool = new Tinypool({
          runtime: 'child_process',
          filename: kTask,
          minThreads: 1,
          maxThreads: 1,
          idleTimeout: 60_000,
        });
        await pool.run(0);
        return { run: timedOps((i) => pool.run(i)), teardown: () => pool.destroy() };
      },
    },
  ],
});
