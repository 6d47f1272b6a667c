'use strict';
// One producer process -> one consumer process, 64 B messages: how many per second arrive.
// The parent is the consumer; the child produces as fast as its channel accepts.
const { defineGroup } = require('../lib/group');
const { pending } = require('../lib/competitor');
const { forkChild, startWorker } = require('../lib/child');
const { socketPeer } = require('../lib/unix-socket');

const kBytes = 'Queue 64 B, batched';
const kObjects = 'Queue small objects, JSON codec';

/** Resolves once `count` messages have been delivered to `target.onData`/`onFrame`. */
function arrivals(target, key, count) {
  return new Promise((resolve) => {
    let left = count;
    target[key] = () => {
      if (--left === 0) resolve();
    };
  });
}

function ipc(serialization, payload) {
  return async (ctx) => {
    const child = await forkChild('ipc-peer.js', {
      serialization,
      env: { ...process.env, BENCH_SERIALIZATION: serialization },
      cpu: ctx.pin ? 1 : undefined,
    });
    return {
      run: (n) => Promise.all([arrivals(child, 'onData', n), child.call('produce', { n, payload })]),
      teardown: () => child.close(),
    };
  };
}

function socket(corked) {
  return async (ctx) => {
    const peer = await socketPeer(ctx);
    return {
      run: (n) => Promise.all([arrivals(peer, 'onFrame', n), peer.child.call('produce', { n, corked })]),
      teardown: () => peer.close(),
    };
  };
}

module.exports = defineGroup({
  name: 'ipc-throughput',
  title: 'Messages per second, one producer -> one consumer',
  metric: 'throughput',
  unit: 'msg',
  notes:
    '64 B = a 64-byte Buffer; small object = a 5-field object (64 B as JSON). With json serialization a Buffer arrives as {type, data} and is not turned back into a Buffer. The consumer only counts messages.',
  competitors: [
    pending(kBytes),
    pending(kObjects),
    { name: 'child_process IPC, 64 B Buffer, json', side: 'peer', vs: kBytes, setup: ipc('json', 'buffer') },
    { name: 'child_process IPC, 64 B Buffer, advanced', side: 'peer', vs: kBytes, setup: ipc('advanced', 'buffer') },
    { name: 'child_process IPC, small object, json', side: 'peer', vs: kObjects, setup: ipc('json', 'object') },
    { name: 'child_process IPC, small object, advanced', side: 'peer', vs: kObjects, setup: ipc('advanced', 'object') },
    {
      name: 'worker postMessage, 64 B Buffer',
      side: 'peer',
      vs: kBytes,
      async setup() {
        const worker = await startWorker('worker-peer.js');
        return {
          run: (n) => Promise.all([arrivals(worker, 'onData', n), worker.call('produce', { n, payload: 'buffer' })]),
          teardown: () => worker.close(),
          maxN: 2e6,
        };
      },
    },
    { name: 'Unix socket, framed 64 B', side: 'peer', vs: kBytes, setup: socket(false) },
    { name: 'Unix socket, framed 64 B, corked', side: 'peer', vs: kBytes, setup: socket(true) },
  ],
});
