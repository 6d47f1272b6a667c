'use strict';
// The peers of the one-way throughput groups (ipc-throughput, channel): a child process or a
// worker thread produces n messages as fast as its transport takes them; this process (the
// consumer) only counts them as they arrive. Each returns a competitor's `setup`.
const { forkChild, startWorker } = require('./child');
const { socketPeer } = require('./unix-socket');

/** Resolves once `count` messages have been delivered to `target[key]` (onData / onFrame). */
function arrivals(target, key, count) {
  return new Promise((resolve) => {
    let left = count;
    target[key] = () => {
      if (--left === 0) resolve();
    };
  });
}

/** child_process IPC: children/ipc-peer.js forked with `serialization`, sending `payload`s. */
function ipcProducer(serialization, payload) {
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

/** worker postMessage: children/worker-peer.js posting `payload`s (no backpressure: n capped). */
function postMessageProducer(payload) {
  return async () => {
    const worker = await startWorker('worker-peer.js');
    return {
      run: (n) => Promise.all([arrivals(worker, 'onData', n), worker.call('produce', { n, payload })]),
      teardown: () => worker.close(),
      maxN: 2e6,
    };
  };
}

/** A Unix socket (lib/unix-socket.js): the child writes framed 64 B messages, corked or not. */
function socketProducer(corked) {
  return async (ctx) => {
    const peer = await socketPeer(ctx);
    return {
      run: (n) => Promise.all([arrivals(peer, 'onFrame', n), peer.child.call('produce', { n, corked })]),
      teardown: () => peer.close(),
    };
  };
}

module.exports = { arrivals, ipcProducer, postMessageProducer, socketProducer };
