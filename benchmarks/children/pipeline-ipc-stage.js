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

const role = process.env.BENCH_ROLE;
const now = () => Number(process.hrtime.bigint()); // CLOCK_MONOTONIC: one clock for every process

// --- source -------------------------------------------------------------------------------
async function produce({ n }) {
  const msg = smallObject(1);
  let sent = 0;
  while (sent < n) {
    const ok = process.send(msg);
    sent++;
    if (!ok && sent < n) {
      // Node's write queue is over its threshold: send the next one and wait until it is
      // written (as benchmarks/children/ipc-peer.js; no unbounded queue in this process).
      await new Promise((resolve) => process.send(msg, resolve));
      sent++;
    }
  }
  return { sent: n };
}

// Latency: one message in flight. Stamp, send, wait for the sink's ack (routed back by the
// parent), repeat. Only the stamp→arrival time is measured, at the sink.
let ackWaiter = null;
async function chain({ n }) {
  for (let i = 0; i < n; i++) {
    const acked = new Promise((resolve) => (ackWaiter = resolve));
    process.send({ ...smallObject(i), t: now() });
    await acked;
  }
  return { sent: n };
}

// --- sink ---------------------------------------------------------------------------------
let count = 0;
let expected = null; // { until, resolve }
let latencies = null; // Float64Array while a latency run is collecting
let lat = 0;

function arrive(msg) {
  if (latencies !== null) {
    latencies[lat++] = now() - msg.t;
    process.send({ ack: 1 });
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

const onData = {
  source: (msg) => {
    if (msg && msg.ack && ackWaiter !== null) {
      const w = ackWaiter;
      ackWaiter = null;
      w();
    }
  },
  middle: (msg) => process.send(msg),
  sink: arrive,
}[role];
if (!onData) throw new Error(`BENCH_ROLE must be source, middle or sink, got ${role}`);

serve({ info: { role }, commands: { produce, chain, expect }, onData });
