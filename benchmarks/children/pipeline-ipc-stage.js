'use strict';
// One stage of the hand-written child_process IPC pipeline (groups actor-throughput and
// actor-latency; the wiring is in lib/pipelines.js). Children cannot talk to each other over
// Node's IPC channel, so the parent routes: every data message a stage process.send()s goes to
// the parent, which process.send()s it on to one child of the next stage (round robin).
//
// Roles (BENCH_ROLE): 'source' (its 'produce' / 'chain' commands create the messages),
// 'middle' (forwards every data message it gets), 'sink' (counts; its 'expect' command resolves
// once the running count reaches a total; latency runs record send→arrival times).
const { serve } = require('../lib/serve');
const { smallObject } = require('../lib/payloads');
const { sendAll } = require('../lib/ipc-send');
const { latencyChain, countingSink } = require('../lib/pipeline-stage');

const role = process.env.BENCH_ROLE;

// --- source -------------------------------------------------------------------------------
// Throughput: n messages as fast as the IPC channel takes them (waiting when its write queue
// is full: no unbounded queue in this process).
const produce = ({ n }) => sendAll(smallObject(1), n);

// Latency: the sink's acks come back routed by the parent.
const { chain, acked } = latencyChain((msg) => process.send(msg));

// --- sink ---------------------------------------------------------------------------------
const { arrive, collect, expect } = countingSink(() => process.send({ ack: 1 }));

const onData = {
  source: (msg) => {
    if (msg && msg.ack) acked();
  },
  middle: (msg) => process.send(msg),
  sink: arrive,
}[role];
if (!onData) throw new Error(`BENCH_ROLE must be source, middle or sink, got ${role}`);

serve({ info: { role }, commands: { produce, chain, collect, expect }, onData });
