'use strict';
// Issue 12: per-message latency through a 3-stage chain (source → forwarder → sink), one
// message in flight, timed one way: the source stamps the message with process.hrtime
// (CLOCK_MONOTONIC, the same clock in every process and thread of the machine), the sink
// subtracts the stamp when its recv() runs, then acks the source (the ack is not timed), which
// sends the next. Wiring of each competitor: lib/pipelines.js, lib/actor-pipeline.js.
const { defineGroup } = require('../lib/group');
const { ipcPipeline, workerPipeline } = require('../lib/pipelines');
const { actorPipeline, hasRelay } = require('../lib/actor-pipeline');

const kChain = [1, 1, 1];
const kRelay = 'Relay 1 → 1 → 1, actors in child processes';
const kRelayThread = 'Relay 1 → 1 → 1, actors in worker threads';

module.exports = defineGroup({
  name: 'actor-latency',
  title: 'One message through a 3-stage chain, source stamp to sink (issue 12)',
  metric: 'latency',
  unit: 'msg',
  notes:
    'One-way time from the source (just before send) to the sink (in its receive handler) through one forwarding stage, one message in flight: the sink acks each message to the source outside the measured path (actors: a ShmQueue of their own; IPC: through the parent; workers: a MessagePort). Both ends read process.hrtime (CLOCK_MONOTONIC, one clock machine-wide). IPC: 4 pipe hops (every message is routed by the parent); workers: 2 direct MessagePort hops; Relay: 2 ShmQueue hops.',
  competitors: [
    { name: kRelay, side: 'shmsync', available: hasRelay, setup: actorPipeline(kChain, 'latency', 'process') },
    { name: kRelayThread, side: 'shmsync', available: hasRelay, setup: actorPipeline(kChain, 'latency', 'thread') },
    {
      name: 'child_process IPC 1 → 1 → 1, routed through the parent (json)',
      side: 'peer',
      vs: [kRelay],
      setup: ipcPipeline(kChain, 'latency'),
    },
    {
      name: 'worker_threads 1 → 1 → 1, MessagePorts between workers',
      side: 'peer',
      vs: [kRelayThread, kRelay],
      setup: workerPipeline(kChain, 'latency'),
    },
  ],
});
