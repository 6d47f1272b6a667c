'use strict';
// Ping-pong round trip between two processes: send one message, wait for the echo.
const { defineGroup } = require('../lib/group');
const { forkChild, startWorker } = require('../lib/child');
const { socketPeer } = require('../lib/unix-socket');
const { encodeFrame } = require('../lib/frames');
const { buffer64, smallObject } = require('../lib/payloads');
const { shmsync } = require('../lib/shmsync');
const { benchName, unlinkName, guarded } = require('../lib/shm-names');

const kQueue = 'Queue ping-pong 64 B, both sides blocking in getSync()';
const kQueueAsync = 'Queue ping-pong 64 B, both sides await get()/put()';
const kGiveUpMs = 10_000;

/**
 * Two raw ShmQueues between this process and children/queue-peer.js, which echoes every
 * message from `ping` to `pong`. `mode` 'sync': both sides putSync()/getSync(); 'async': both
 * sides await put()/get(). One untimed round trip first: the child enters its loop when the
 * command arrives over IPC, which must not count as a round trip.
 */
function shmPingPong(mode) {
  return (ctx) =>
    guarded(async (track) => {
      const { ShmQueue } = shmsync();
      const ping = benchName('ping');
      const pong = benchName('pong');
      track(() => unlinkName(ping));
      track(() => unlinkName(pong));
      const qPing = new ShmQueue(ping, { create: 'create', codec: 'raw', capacity: 64 * 1024 });
      track(() => qPing.close());
      const qPong = new ShmQueue(pong, { create: 'create', codec: 'raw', capacity: 64 * 1024 });
      track(() => qPong.close());
      const child = await forkChild('queue-peer.js', { cpu: ctx.pin ? 1 : undefined });
      track(() => child.close().catch(() => child.kill()));
      const msg = buffer64();
      const syncTrip = () => {
        qPing.putSync(msg);
        if (qPong.getSync({ timeout: kGiveUpMs }) === undefined) throw new Error('no echo within 10 s');
      };
      const asyncTrip = async () => {
        await qPing.put(msg);
        await qPong.get({ timeout: kGiveUpMs });
      };
      const run =
        mode === 'sync'
          ? async (n) => {
              const echoed = child.call('echoSync', { ping, pong, n: n + 1 });
              const latencies = new Float64Array(n);
              try {
                syncTrip();
                for (let i = 0; i < n; i++) {
                  const t0 = process.hrtime.bigint();
                  syncTrip();
                  latencies[i] = Number(process.hrtime.bigint() - t0);
                }
              } finally {
                await echoed;
              }
              return { latencies };
            }
          : async (n) => {
              const echoed = child.call('echoAsync', { ping, pong, n: n + 1 });
              const latencies = new Float64Array(n);
              try {
                await asyncTrip();
                for (let i = 0; i < n; i++) {
                  const t0 = process.hrtime.bigint();
                  await asyncTrip();
                  latencies[i] = Number(process.hrtime.bigint() - t0);
                }
              } finally {
                await echoed;
              }
              return { latencies };
            };
      return {
        run,
        async teardown() {
          await child.close();
          qPing.close();
          qPong.close();
          unlinkName(ping);
          unlinkName(pong);
        },
      };
    });
}

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
  notes:
    'child_process and worker messages are a small object (64 B as JSON); the Unix socket and the queues send a 64-byte Buffer (raw codec, framed on the socket). Each peer is compared with both queue variants: blocking (the floor) and Promise (event-loop friendly, like the peers).',
  competitors: [
    { name: kQueue, side: 'shmsync', setup: shmPingPong('sync') },
    { name: kQueueAsync, side: 'shmsync', setup: shmPingPong('async') },
    { name: 'child_process IPC, json', side: 'peer', vs: [kQueue, kQueueAsync], setup: ipc('json') },
    { name: 'child_process IPC, advanced', side: 'peer', vs: [kQueue, kQueueAsync], setup: ipc('advanced') },
    {
      name: 'worker postMessage (thread)',
      side: 'peer',
      vs: [kQueue, kQueueAsync],
      async setup() {
        const worker = await startWorker('worker-peer.js');
        const msg = smallObject(7);
        return { run: pingPong(worker, 'onData', () => worker.send(msg)), teardown: () => worker.close() };
      },
    },
    {
      name: 'Unix socket, framed 64 B',
      side: 'peer',
      vs: [kQueue, kQueueAsync],
      async setup(ctx) {
        const peer = await socketPeer(ctx);
        const frame = encodeFrame(buffer64());
        return { run: pingPong(peer, 'onFrame', () => peer.socket.write(frame)), teardown: () => peer.close() };
      },
    },
  ],
});
