'use strict';
// The other process of the channel group's shared rows: opens the parent's ShmQueue by name,
// makes a shared channel over it (mkchannel({ shared: queue })) and writes n items - tryWrite()
// while the ring has room, `await write()` when it is full (backpressure). The parent reads.
const { serve } = require('../lib/serve');
const { shmsync } = require('../lib/shmsync');
const { buffer64, smallObject } = require('../lib/payloads');

const open = new Map();

function writerFor(name, codec) {
  let w = open.get(name);
  if (w === undefined) {
    const { ShmQueue, mkchannel } = shmsync();
    const q = new ShmQueue(name, { create: 'open', codec });
    [w] = mkchannel({ shared: q });
    w.queueHandle = q;
    open.set(name, w);
  }
  return w;
}

const kMany = 256;

async function produce({ name, n, payload, many }) {
  const codec = payload === 'object' ? 'json' : 'raw';
  const w = writerFor(name, codec);
  const msg = payload === 'object' ? smallObject(1) : buffer64();
  if (many) {
    // writeMany: one ring write (and one credit take, when bounded) per batch of 256.
    const batch = new Array(kMany).fill(msg);
    for (let i = 0; i < n; i += kMany) await w.writeMany(n - i >= kMany ? batch : batch.slice(0, n - i));
    return { sent: n };
  }
  for (let i = 0; i < n; i++) if (!w.tryWrite(msg)) await w.write(msg);
  return { sent: n };
}

serve({
  commands: { produce },
  close() {
    for (const w of open.values()) {
      w.release();
      w.queueHandle.close();
    }
  },
});
