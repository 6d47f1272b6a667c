'use strict';
// The parts the hand-written pipeline stages share (children/pipeline-ipc-stage.js over
// child_process IPC, children/pipeline-worker-stage.js over MessagePorts; wiring in
// lib/pipelines.js): the source's latency chain and the counting sink. Each runs inside one
// stage (a child process or a worker thread); only how a message or an ack travels differs,
// and the stage passes that in.

const { smallObject } = require('./payloads');

const now = () => Number(process.hrtime.bigint()); // CLOCK_MONOTONIC: one clock for every process and thread

/**
 * Source side of a latency run: one message in flight. `send(msg)` sends a stamped message
 * towards the sink; the stage calls `acked()` when the sink's ack for it comes back. Only the
 * stamp→arrival time is measured, at the sink.
 */
function latencyChain(send) {
  let ackWaiter = null;
  async function chain({ n }) {
    for (let i = 0; i < n; i++) {
      const acked = new Promise((resolve) => (ackWaiter = resolve));
      send({ ...smallObject(i), t: now() });
      await acked;
    }
    return { sent: n };
  }
  function acked() {
    const w = ackWaiter;
    ackWaiter = null;
    if (w) w();
  }
  return { chain, acked };
}

/**
 * The sink: `arrive(msg)` counts every data message (and, while a latency run collects, records
 * its send→arrival time and calls `ack()` so the source sends the next); the 'collect' command
 * starts collecting n latencies (the runner awaits it before the source starts: in the worker
 * pipeline data arrives on a MessagePort, commands on parentPort, and nothing orders the two);
 * the 'expect' command resolves once the running count reaches `until`, with the latencies
 * collected meanwhile.
 */
function countingSink(ack) {
  let count = 0;
  let expected = null; // { until, resolve }
  let latencies = null; // Float64Array while a latency run is collecting
  let lat = 0;

  function arrive(msg) {
    if (latencies !== null) {
      latencies[lat++] = now() - msg.t;
      ack();
    }
    if (++count === expected?.until) {
      const { resolve } = expected;
      expected = null;
      resolve();
    }
  }

  function collect({ n }) {
    latencies = new Float64Array(n);
    lat = 0;
    return { collecting: n };
  }

  function expect({ until }) {
    return new Promise((resolve) => {
      const done = () => {
        const out = latencies === null ? { count } : { count, latencies: Array.from(latencies.subarray(0, lat)) };
        latencies = null;
        resolve(out);
      };
      if (count >= until) done();
      else expected = { until, resolve: done };
    });
  }

  return { arrive, collect, expect };
}

module.exports = { latencyChain, countingSink };
