'use strict';
// Ping-pong round trip between two processes: send one message, wait for the echo.
const { defineGroup } = require('../lib/group');
const { pending } = require('../lib/competitor');
const { forkChild, startWorker } = require('../lib/child');
const { socketPeer } = require('../lib/unix-socket');
const { encodeFrame } = require('../lib/frames');
const { buffer64, smallObject } = require('../lib/payloads');

const kQueue = 'Queue ping-pong, 64 B';

/**
 * Sequential round trips: `send()` one message, resolve on the echo (delivered through
 * `target[key]`). Returns per-trip latencies in ns.
 */
function pingPong(target, key, send) {
  let wake = null;
  target[key] = () => wake();
  return async (n) => {
    const latencies = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      await new Promise((resolve) => {
        wake = resolve;
        send();
      });
      latencies[i] = Number(process.hrtime.bigint() - t0);
    }
    return { latencies };
  };
}

function ipc(serialization) {
  return async (ctx) => {
    const child = await forkChild('ipc-peer.js', { serialization, cpu: ctx.pin ? 1 : undefined });
    const msg = smallObject(7);
    return { run: pingPong(child, 'onData', () => child.send(msg)), teardown: () => child.close() };
  };
}

module.exports = defineGroup({
  name: 'ipc-rtt',
  title: 'Ping-pong round trip between two processes',
  metric: 'latency',
  unit: 'round trip',
  notes: 'child_process and worker messages are a small object (64 B as JSON); the Unix socket sends a framed 64-byte Buffer.',
  competitors: [
    pending(kQueue),
    { name: 'child_process IPC, json', side: 'peer', setup: ipc('json') },
    { name: 'child_process IPC, advanced', side: 'peer', setup: ipc('advanced') },
    {
      name: 'worker postMessage (thread)',
      side: 'peer',
      async setup() {
        const worker = await startWorker('worker-peer.js');
        const msg = smallObject(7);
        return { run: pingPong(worker, 'onData', () => worker.send(msg)), teardown: () => worker.close() };
      },
    },
    {
      name: 'Unix socket, framed 64 B',
      side: 'peer',
      async setup(ctx) {
        const peer = await socketPeer(ctx);
        const frame = encodeFrame(buffer64());
        return { run: pingPong(peer, 'onFrame', () => peer.socket.write(frame)), teardown: () => peer.close() };
      },
    },
  ],
});
