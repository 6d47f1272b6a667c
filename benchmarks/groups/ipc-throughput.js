'use strict';
// One producer process -> one consumer process, 64 B messages: how many per second arrive.
// The parent is the consumer; the child produces as fast as its channel accepts.
const { defineGroup } = require('../lib/group');
const { forkChild } = require('../lib/child');
const { ipcProducer, postMessageProducer, socketProducer } = require('../lib/throughput-peers');
const { shmsync } = require('../lib/shmsync');
const { benchName, unlinkName, guarded } = require('../lib/shm-names');

const kBatch = 256;
const kBytes = `Queue 64 B, putManySync()/getMany() ×${kBatch}`;
const kSingle = 'Queue 64 B, putSync()/getSync() one by one';
const kObjects = `Queue small objects, JSON codec, putManySync()/getMany() ×${kBatch}`;
const kStructured = `Queue small objects, structured codec (the default), putManySync()/getMany() ×${kBatch}`;
const kDrain = `Queue 64 B, putManySync() ×${kBatch} / drainSync() zero-copy views`;
const kGiveUpMs = 10_000;

/** For `available`: the zero-copy batch API of issue 10 (`queue.drainSync`) is in this build. */
function hasDrainSync() {
  const { ShmQueue } = shmsync();
  return typeof ShmQueue.prototype.drainSync === 'function'
    ? true
    : 'ShmQueue#drainSync() is not in this build (issue 10: the zero-copy batch API)';
}

/**
 * Consumer of the drainSync row: takes every available message as a view (no per-message
 * allocation; views die when the call returns) and counts its bytes. When the ring is empty it
 * waits in `await drain()` (issue 10's waiting form) when the build has it, else in a blocking
 * getSync() (which takes one message).
 */
function drainConsumer(q) {
  let bytes = 0;
  const visit = (view) => {
    bytes += view.length;
  };
  const hasDrain = typeof q.drain === 'function';
  return async (n) => {
    for (let got = 0; got < n;) {
      let k = q.drainSync(visit);
      if (k === 0) {
        if (hasDrain) k = await q.drain(visit, { timeout: kGiveUpMs });
        else {
          const m = q.getSync({ timeout: kGiveUpMs });
          k = m === undefined ? 0 : 1;
          if (m !== undefined) bytes += m.length;
        }
        if (!(k > 0)) throw new Error(`drain timed out after ${got} of ${n}`);
      }
      got += k;
    }
    if (bytes === 0) throw new Error('drainSync() delivered no bytes');
  };
}

/**
 * ShmQueue from a child process (children/queue-peer.js) to this one. The child puts n
 * messages (`batch` 1: putSync each; else putManySync batches); this process takes them with
 * getSync() one by one (batch 1), getMany(batch), or drainSync() (`consumer: 'drain'`), and
 * counts.
 */
function shmQueue({ payload, batch, consumer, codec: objectCodec = 'json' }) {
  return (ctx) =>
    guarded(async (track) => {
      const name = benchName('tput');
      track(() => unlinkName(name));
      const codec = payload === 'object' ? objectCodec : 'raw';
      const q = new (shmsync().ShmQueue)(name, { create: 'create', codec });
      track(() => q.close());
      const child = await forkChild('queue-peer.js', { cpu: ctx.pin ? 1 : undefined });
      track(() => child.close().catch(() => child.kill()));
      const consume =
        consumer === 'drain'
          ? drainConsumer(q)
          : batch === 1
            ? (n) => {
                for (let i = 0; i < n; i++) {
                  if (q.getSync({ timeout: kGiveUpMs }) === undefined)
                    throw new Error(`getSync timed out after ${i} of ${n}`);
                }
              }
            : async (n) => {
                for (let got = 0; got < n;) got += (await q.getMany(kBatch, { timeout: kGiveUpMs })).length;
              };
      return {
        async run(n) {
          const produced = child.call('produce', { name, n, payload, batch, codec });
          try {
            await consume(n);
          } finally {
            await produced;
          }
        },
        async teardown() {
          await child.close();
          q.close();
          unlinkName(name);
        },
      };
    });
}

module.exports = defineGroup({
  name: 'ipc-throughput',
  title: 'Messages per second, one producer -> one consumer',
  metric: 'throughput',
  unit: 'msg',
  notes:
    '64 B = a 64-byte Buffer; small object = a 5-field object (64 B as JSON). With json serialization a Buffer arrives as {type, data} and is not turned back into a Buffer. The consumer only counts messages.',
  competitors: [
    { name: kBytes, side: 'shmsync', setup: shmQueue({ payload: 'buffer', batch: kBatch }) },
    { name: kSingle, side: 'shmsync', setup: shmQueue({ payload: 'buffer', batch: 1 }) },
    { name: kObjects, side: 'shmsync', setup: shmQueue({ payload: 'object', batch: kBatch }) },
    {
      name: kStructured,
      side: 'shmsync',
      setup: shmQueue({ payload: 'object', batch: kBatch, codec: 'structured' }),
    },
    {
      name: kDrain,
      side: 'shmsync',
      available: hasDrainSync,
      setup: shmQueue({ payload: 'buffer', batch: kBatch, consumer: 'drain' }),
    },
    {
      name: 'child_process IPC, 64 B Buffer, json',
      side: 'peer',
      vs: [kBytes, kSingle],
      setup: ipcProducer('json', 'buffer'),
    },
    {
      name: 'child_process IPC, 64 B Buffer, advanced',
      side: 'peer',
      vs: [kBytes, kSingle],
      setup: ipcProducer('advanced', 'buffer'),
    },
    { name: 'child_process IPC, small object, json', side: 'peer', vs: kObjects, setup: ipcProducer('json', 'object') },
    {
      name: 'child_process IPC, small object, advanced',
      side: 'peer',
      vs: [kObjects, kStructured],
      setup: ipcProducer('advanced', 'object'),
    },
    {
      name: 'worker postMessage, 64 B Buffer',
      side: 'peer',
      vs: [kBytes, kSingle],
      setup: postMessageProducer('buffer'),
    },
    { name: 'Unix socket, framed 64 B', side: 'peer', vs: [kBytes, kSingle], setup: socketProducer(false) },
    {
      name: 'Unix socket, framed 64 B, corked',
      side: 'peer',
      vs: [kBytes, kDrain, kSingle],
      setup: socketProducer(true),
    },
  ],
});
