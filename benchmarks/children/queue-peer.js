'use strict';
// The other process of the ShmQueue benchmarks (ipc-throughput, ipc-rtt). Queues are created
// (and unlinked) by the parent; this side opens them by name and closes its handles on exit.
//
//   produce   n messages, one putSync() each, or putManySync() in batches
//   echoSync  n times: getSync() from `ping`, putSync() it to `pong`   (both sides blocking)
//   echoAsync n times: await get() from `ping`, await put() to `pong`  (Promise API)
const { serve } = require('../lib/serve');
const { shmsync } = require('../lib/shmsync');
const { buffer64, smallObject } = require('../lib/payloads');

const queues = new Map();

function queue(name, codec) {
  const key = `${name}/${codec}`;
  let q = queues.get(key);
  if (q === undefined) {
    q = new (shmsync().ShmQueue)(name, { create: 'open', codec });
    queues.set(key, q);
  }
  return q;
}

function produce({ name, n, payload, batch = 1, codec = payload === 'object' ? 'json' : 'raw' }) {
  const q = queue(name, codec);
  const msg = payload === 'object' ? smallObject(1) : buffer64();
  if (batch === 1) {
    for (let i = 0; i < n; i++) q.putSync(msg);
  } else {
    const full = Array(batch).fill(msg);
    let left = n;
    for (; left >= batch; left -= batch) q.putManySync(full);
    if (left > 0) q.putManySync(full.slice(0, left));
  }
  return { sent: n };
}

function echoSync({ ping, pong, n }) {
  const qin = queue(ping, 'raw');
  const qout = queue(pong, 'raw');
  for (let i = 0; i < n; i++) qout.putSync(qin.getSync());
  return { echoed: n };
}

async function echoAsync({ ping, pong, n }) {
  const qin = queue(ping, 'raw');
  const qout = queue(pong, 'raw');
  for (let i = 0; i < n; i++) await qout.put(await qin.get());
  return { echoed: n };
}

serve({
  commands: { produce, echoSync, echoAsync },
  close() {
    for (const q of queues.values()) q.close();
  },
});
