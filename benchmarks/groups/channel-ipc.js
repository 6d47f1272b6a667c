'use strict';
// Issue 11, shared channels: small objects from a writer in another process / worker thread to
// a reader here (`await write()` per item there, `read(256)` here), against child_process IPC
// and worker postMessage carrying the same objects.
const { defineGroup } = require('../lib/group');
const { forkChild, startWorker } = require('../lib/child');
const { shmsync } = require('../lib/shmsync');

const kChannelProcess = 'shared channel, writer process -> read(256) here';
const kChannelThread = 'shared channel, writer thread -> read(256) here';

function arrivals(target, key, count) {
  return new Promise((resolve) => {
    let left = count;
    target[key] = () => {
      if (--left === 0) resolve();
    };
  });
}

function sharedChannel(kind) {
  return async (ctx) => {
    const s = shmsync();
    const [w, r] = s.mkchannel({ shared: { capacity: 1 << 20 } });
    const child =
      kind === 'process'
        ? await forkChild('channel-peer.js', { cpu: ctx.pin ? 1 : undefined })
        : await startWorker('channel-peer.js');
    await child.call('attach', { endpoint: s.encodeHandles(w) });
    w.release();
    const readN = async (n) => {
      for (let got = 0; got < n;) got += (await r.read(Math.min(256, n - got))).length;
    };
    return {
      run: (n) => Promise.all([readN(n), child.call('produce', { n })]),
      async teardown() {
        await child.close();
        r.close();
      },
    };
  };
}

module.exports = defineGroup({
  name: 'channel-ipc',
  title: 'Shared channel across processes and threads: small objects',
  metric: 'throughput',
  unit: 'item',
  notes:
    'The writer awaits write() per item (structured codec, a 5-field object); the reader here takes read(256) batches. Peers carry the same object: child_process IPC (advanced serialization) and worker postMessage.',
  competitors: [
    { name: kChannelProcess, side: 'shmsync', setup: sharedChannel('process') },
    { name: kChannelThread, side: 'shmsync', setup: sharedChannel('thread') },
    {
      name: 'child_process IPC, small object, advanced',
      side: 'peer',
      vs: kChannelProcess,
      async setup(ctx) {
        const child = await forkChild('ipc-peer.js', {
          serialization: 'advanced',
          env: { ...process.env, BENCH_SERIALIZATION: 'advanced' },
          cpu: ctx.pin ? 1 : undefined,
        });
        return {
          run: (n) => Promise.all([arrivals(child, 'onData', n), child.call('produce', { n, payload: 'object' })]),
          teardown: () => child.close(),
        };
      },
    },
    {
      name: 'worker postMessage, small object',
      side: 'peer',
      vs: kChannelThread,
      async setup() {
        const worker = await startWorker('worker-peer.js');
        return {
          run: (n) => Promise.all([arrivals(worker, 'onData', n), worker.call('produce', { n, payload: 'object' })]),
          teardown: () => worker.close(),
          maxN: 2e6,
        };
      },
    },
  ],
});
