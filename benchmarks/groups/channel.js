'use strict';
// Issue 11: channel write+read throughput. In process: SerialChannel (and Channel) vs a plain
// array queue and an async-iterator queue, batches of 256 written then read. Across processes:
// a shared channel (ShmQueue underneath) from a child process to this one vs worker postMessage
// and a Unix socket. One op = one item written and read.
const { defineGroup } = require('../lib/group');
const { forkChild, startWorker } = require('../lib/child');
const { ipcProducer, postMessageProducer, socketProducer } = require('../lib/throughput-peers');
const { shmsync } = require('../lib/shmsync');
const { benchName, unlinkName, guarded } = require('../lib/shm-names');
const { ArrayQueue } = require('../peers/array-queue');
const { AsyncIteratorQueue } = require('../peers/async-iterator-queue');

const kBatch = 256;
const kSerialTry = `SerialChannel, tryWrite() ×${kBatch} + await read(${kBatch})`;
const kSerialWrite = `SerialChannel, await write() ×${kBatch} + await read(${kBatch})`;
const kChannelTry = `Channel (in process), tryWrite() ×${kBatch} + await read(${kBatch})`;
const kSharedBytes = `shared Channel, process → process, 64 B Buffer (raw codec), read(${kBatch})`;
const kSharedObjects = `shared Channel, process → process, small object (json codec), read(${kBatch})`;
const kSharedSync = `shared Channel, process → process, 64 B Buffer (raw codec), blocking readSync(${kBatch})`;
const kSharedBytesMany = `shared Channel, process → process, 64 B Buffer (raw codec), writeMany(${kBatch}) + read(${kBatch})`;
const kSharedObjectsMany = `shared Channel, process → process, small object (json codec), writeMany(${kBatch}) + read(${kBatch})`;
const kSharedThreadMany = `shared Channel, worker thread → main, small object (json codec), writeMany(${kBatch}) + read(${kBatch})`;

/** For `available`: the channel API (issue 11, branch chan) is in this build. */
function hasChannels() {
  const api = shmsync();
  return typeof api.mkchannel === 'function' && typeof api.SerialChannel === 'function'
    ? true
    : 'mkchannel/SerialChannel are not in this build (issue 11: the channel layer)';
}

/** In process: write a batch, read it back, until n items went through. */
function localChannel({ serial, awaitWrite }) {
  return async () => {
    const { mkchannel, SerialChannel, Channel } = shmsync();
    const [w, r] = mkchannel({ ctype: serial ? SerialChannel : Channel });
    const item = { id: 1 };
    const body = awaitWrite
      ? async (n) => {
          for (let done = 0; done < n;) {
            const b = Math.min(kBatch, n - done);
            for (let j = 0; j < b; j++) await w.write(item);
            const got = await r.read(b);
            if (got.length !== b) throw new Error(`read(${b}) returned ${got.length} items`);
            done += b;
          }
        }
      : async (n) => {
          for (let done = 0; done < n;) {
            const b = Math.min(kBatch, n - done);
            for (let j = 0; j < b; j++)
              if (!w.tryWrite(item)) throw new Error('tryWrite refused on an unbounded channel');
            const got = await r.read(b);
            if (got.length !== b) throw new Error(`read(${b}) returned ${got.length} items`);
            done += b;
          }
        };
    return { run: body, teardown: () => w.close() };
  };
}

/** The array peer: push a batch, take it back; one await per batch like the channel's read. */
function arrayQueue() {
  const q = new ArrayQueue();
  const item = { id: 1 };
  return {
    async run(n) {
      for (let done = 0; done < n;) {
        const b = Math.min(kBatch, n - done);
        for (let j = 0; j < b; j++) q.push(item);
        const got = await Promise.resolve(q.take(b));
        if (got.length !== b) throw new Error('short take');
        done += b;
      }
    },
  };
}

/** The async-iterator peer: push a batch, `await next()` each item of it. */
function asyncIteratorQueue() {
  const q = new AsyncIteratorQueue();
  const item = { id: 1 };
  return {
    async run(n) {
      for (let done = 0; done < n;) {
        const b = Math.min(kBatch, n - done);
        for (let j = 0; j < b; j++) q.push(item);
        for (let j = 0; j < b; j++) if ((await q.next()).done) throw new Error('ended early');
        done += b;
      }
    },
  };
}

/** A shared channel: the child (children/channel-peer.js) writes n items, this process reads. */
function sharedChannel(payload, { sync = false, many = false, thread = false } = {}) {
  return (ctx) =>
    guarded(async (track) => {
      const { ShmQueue, mkchannel } = shmsync();
      const name = benchName('chan');
      track(() => unlinkName(name));
      const codec = payload === 'object' ? 'json' : 'raw';
      const q = new ShmQueue(name, { create: 'create', codec, capacity: 1 << 20 });
      track(() => q.close());
      const [, r] = mkchannel({ shared: q });
      track(() => r.close());
      const child = thread
        ? await startWorker('channel-peer.js')
        : await forkChild('channel-peer.js', { cpu: ctx.pin ? 1 : undefined });
      track(() => child.close().catch(() => child.kill()));
      return {
        async run(n) {
          const produced = child.call('produce', { name, n, payload, many });
          try {
            // The blocking row: one awaited read first (the child has then surely got its
            // command: a blocked event loop could not flush it), then readSync for the rest.
            for (let got = 0; got < n;) {
              const want = Math.min(kBatch, n - got);
              const items = sync && got > 0 ? r.readSync(want, { timeout: 10_000 }) : await r.read(want);
              if (items.length === 0) throw new Error(`read returned nothing after ${got} of ${n}`);
              got += items.length;
            }
          } finally {
            await produced;
          }
        },
        async teardown() {
          await child.close();
          r.close();
          q.close();
          unlinkName(name);
        },
      };
    });
}

module.exports = defineGroup({
  name: 'channel',
  title: 'Channel write+read throughput, in process and process → process',
  metric: 'throughput',
  unit: 'item',
  notes:
    `In process: batches of ${kBatch} items written, then read back (the same object each time); the array peer takes a batch with slice() after one await, the async-iterator peer awaits next() per item. ` +
    'Across processes: the child writes (tryWrite(), await write() when the ring is full), this process reads in batches; peers as in ipc-throughput (the consumer only counts).',
  competitors: [
    { name: kSerialTry, side: 'shmsync', available: hasChannels, setup: localChannel({ serial: true }) },
    {
      name: kSerialWrite,
      side: 'shmsync',
      available: hasChannels,
      setup: localChannel({ serial: true, awaitWrite: true }),
    },
    { name: kChannelTry, side: 'shmsync', available: hasChannels, setup: localChannel({ serial: false }) },
    {
      name: `plain array queue, push() ×${kBatch} + slice(${kBatch})`,
      side: 'peer',
      vs: [kSerialTry, kSerialWrite, kChannelTry],
      setup: async () => arrayQueue(),
    },
    {
      name: `async-iterator queue, push() ×${kBatch} + await next() each`,
      side: 'peer',
      vs: [kSerialTry, kSerialWrite, kChannelTry],
      setup: async () => asyncIteratorQueue(),
    },
    { name: kSharedBytes, side: 'shmsync', available: hasChannels, setup: sharedChannel('buffer') },
    { name: kSharedObjects, side: 'shmsync', available: hasChannels, setup: sharedChannel('object') },
    { name: kSharedSync, side: 'shmsync', available: hasChannels, setup: sharedChannel('buffer', { sync: true }) },
    {
      name: kSharedBytesMany,
      side: 'shmsync',
      available: hasChannels,
      setup: sharedChannel('buffer', { many: true }),
    },
    {
      name: kSharedObjectsMany,
      side: 'shmsync',
      available: hasChannels,
      setup: sharedChannel('object', { many: true }),
    },
    {
      name: kSharedThreadMany,
      side: 'shmsync',
      available: hasChannels,
      setup: sharedChannel('object', { many: true, thread: true }),
    },
    {
      name: 'worker postMessage, 64 B Buffer',
      side: 'peer',
      vs: [kSharedBytes, kSharedSync, kSharedBytesMany],
      setup: postMessageProducer('buffer'),
    },
    {
      name: 'worker postMessage, small object',
      side: 'peer',
      vs: [kSharedObjects, kSharedObjectsMany, kSharedThreadMany],
      setup: postMessageProducer('object'),
    },
    {
      name: 'child_process IPC, small object, advanced serialization',
      side: 'peer',
      vs: [kSharedObjects, kSharedObjectsMany],
      setup: ipcProducer('advanced', 'object'), // the same small object as the channel rows
    },
    {
      name: 'Unix socket, framed 64 B',
      side: 'peer',
      vs: [kSharedBytes, kSharedSync, kSharedBytesMany],
      setup: socketProducer(false),
    },
    {
      name: 'Unix socket, framed 64 B, corked',
      side: 'peer',
      vs: [kSharedBytes, kSharedSync, kSharedBytesMany],
      setup: socketProducer(true),
    },
  ],
});

module.exports.names = {
  kSerialTry,
  kSerialWrite,
  kChannelTry,
  kSharedBytes,
  kSharedObjects,
  kSharedSync,
  kSharedBytesMany,
  kSharedObjectsMany,
  kSharedThreadMany,
};
