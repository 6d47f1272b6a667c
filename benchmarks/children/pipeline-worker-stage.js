'use strict';
// One stage of the hand-written worker_threads pipeline (groups actor-throughput and
// actor-latency; the wiring is in lib/pipelines.js). Stages talk directly: the parent creates
// one MessageChannel per (sender, receiver) pair of consecutive stages and transfers the ports
// (a `{ wire }` message); a sender spreads its messages round robin over its out ports, a
// receiver listens on all its in ports. The main thread only starts a run and hears it end.
//
// Roles (workerData.role): 'source' ('produce' / 'chain' commands), 'middle' (forwards), 'sink'
// (counts; 'expect' resolves once the running count reaches a total; latency runs record
// send→arrival times and ack each message to the source over a port of its own).
const { workerData } = require('node:worker_threads');
const { serve } = require('../lib/serve');
const { smallObject } = require('../lib/payloads');

const { role } = workerData;
const now = () => Number(process.hrtime.bigint()); // CLOCK_MONOTONIC: one clock for every thread
let outs = [];
let next = 0;
let ackPort = null;

function forward(msg) {
  outs[next].postMessage(msg);
  if (++next === outs.length) next = 0;
}

// --- source -------------------------------------------------------------------------------
// postMessage has no backpressure: the producer posts all n, the receivers' queues grow, and
// the run ends when the sink has counted them (the sink's rate is what is measured).
function produce({ n }) {
  const msg = smallObject(1);
  for (let i = 0; i < n; i++) forward(msg);
  return { sent: n };
}

// Latency: one message in flight; only the stamp→arrival time is measured, at the sink.
let ackWaiter = null;
async function chain({ n }) {
  for (let i = 0; i < n; i++) {
    const acked = new Promise((resolve) => (ackWaiter = resolve));
    forward({ ...smallObject(i), t: now() });
    await acked;
  }
  return { sent: n };
}

// --- sink ---------------------------------------------------------------------------------
let count = 0;
let expected = null;
let latencies = null;
let lat = 0;

function arrive(msg) {
  if (latencies !== null) {
    latencies[lat++] = now() - msg.t;
    ackPort.postMessage(1);
  }
  if (++count === expected?.until) {
    const { resolve } = expected;
    expected = null;
    resolve();
  }
}

function expect({ until, collect }) {
  if (collect) {
    latencies = new Float64Array(collect);
    lat = 0;
  }
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

const onMessage = { source: null, middle: forward, sink: arrive }[role];
if (onMessage === undefined) throw new Error(`workerData.role must be source, middle or sink, got ${role}`);

/** `{ wire: { ins, outs, ack } }` from the parent: the transferred ports of this stage. */
function wire({ ins = [], outs: o = [], ack = null }) {
  outs = o;
  for (const p of ins) p.on('message', onMessage);
  ackPort = ack;
  if (role === 'source' && ack !== null) {
    ack.on('message', () => {
      const w = ackWaiter;
      ackWaiter = null;
      if (w) w();
    });
  }
}

serve({
  info: { role },
  commands: { produce, chain, expect },
  onData: (msg) => {
    if (msg && msg.wire) wire(msg.wire);
  },
  close() {
    for (const p of outs) p.close();
    if (ackPort) ackPort.close();
  },
});
