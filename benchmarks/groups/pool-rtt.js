'use strict';
// A trivial task through a warm worker pool, one at a time: submit, await the result.
const path = require('node:path');
const { defineGroup } = require('../lib/group');
const { pending, requirePeer, timedOps } = require('../lib/competitor');
const { childrenDir } = require('../lib/child');

const kTask = path.join(childrenDir, 'pool-task.js');

module.exports = defineGroup({
  name: 'pool-rtt',
  title: 'Warm pool, sequential task round trip',
  metric: 'latency',
  unit: 'task',
  notes: 'One worker, tasks submitted one after another (each awaits the previous result); ops/s is the sequential rate.',
  competitors: [
    pending('pcall through a warm pool'),
    {
      name: 'piscina (worker thread)',
      side: 'peer',
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
      async setup() {
        requirePeer('tinypool');
        const { Tinypool } = await import('tinypool');
        const pool = new Tinypool({ runtime: 'child_process', filename: kTask, minThreads: 1, maxThreads: 1, idleTimeout: 60_000 });
        await pool.run(0);
        return { run: timedOps((i) => pool.run(i)), teardown: () => pool.destroy() };
      },
    },
  ],
});
