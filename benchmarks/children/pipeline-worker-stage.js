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
const { latencyChain, countingSink } = require('../lib/pipeline-stage');

const { role } = workerData;
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

// Latency: the sink acks each message over the ack port (wired below).
const { chain, acked } = latencyChain(forward);

// --- sink ---------------------------------------------------------------------------------
const { arrive, collect, expect } = countingSink(() => ackPort.postMessage(1));

const onMessage = { source: null, middle: forward, sink: arrive }[role];
if (onMessage === undefined) throw new Error(`workerData.role must be source, middle or sink, got ${role}`);

/** `{ wire: { ins, outs, ack } }` from the parent: the transferred ports of this stage. */
function wire({ ins = [], outs: o = [], ack = null }) {
  outs = o;
  for (const p of ins) p.on('message', onMessage);
  ackPort = ack;
  if (role === 'source' && ack !== null) ack.on('message', acked);
}

serve({
  info: { role },
  commands: { produce, chain, collect, expect },
  onData: (msg) => {
    if (msg && msg.wire) wire(msg.wire);
  },
  close() {
    for (const p of outs) p.close();
    if (ackPort) ackPort.close();
  },
});
