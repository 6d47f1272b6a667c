'use strict';
// Issue 12: messages per second through a relay of actors (1 → 1 and 2 → 4 → 1) against the
// same pipeline written by hand over child_process IPC and over worker_threads MessagePorts.
// Every stage is a long-lived process or thread; a run sends n messages from the sources, the
// middle stages forward each one, the sink counts, and the run ends when the sink has all n.
// The stages and the wiring of each competitor: lib/pipelines.js, lib/actor-pipeline.js.
const { defineGroup } = require('../lib/group');
const { ipcPipeline, workerPipeline, cpuDetail } = require('../lib/pipelines');
const { actorPipeline, hasRelay } = require('../lib/actor-pipeline');

const kTopologies = [
  { label: '1 → 1', stages: [1, 1] },
  { label: '2 → 4 → 1', stages: [2, 4, 1] },
];
const relayName = (label, mode, codec) =>
  `Relay ${label}, actors in ${mode === 'thread' ? 'worker threads' : 'child processes'}${codec ? `, codec '${codec}'` : ''}`;
const ipcName = (label) => `child_process IPC ${label}, routed through the parent (json)`;
const workerName = (label) => `worker_threads ${label}, MessagePorts between workers`;

const competitors = [];
// minN: a sample moves at least 2000 messages, so the per-run start/finish hand-shakes (a cold
// wake of a parked stage costs milliseconds on a loaded machine) and the 10 ms granularity of the
// children's CPU clocks (/proc) stay small against the per-message figures.
const add = (...cs) => competitors.push(...cs.map((c) => ({ detail: cpuDetail, minN: 2000, ...c })));
for (const { label, stages } of kTopologies) {
  add(
    {
      name: relayName(label, 'process'),
      side: 'shmsync',
      available: hasRelay,
      setup: actorPipeline(stages, 'throughput', 'process'),
    },
    {
      name: relayName(label, 'process', 'json'),
      side: 'shmsync',
      available: hasRelay,
      setup: actorPipeline(stages, 'throughput', 'process', 'json'),
    },
    {
      name: relayName(label, 'thread'),
      side: 'shmsync',
      available: hasRelay,
      setup: actorPipeline(stages, 'throughput', 'thread'),
    },
    {
      name: ipcName(label),
      side: 'peer',
      vs: [relayName(label, 'process'), relayName(label, 'process', 'json')],
      setup: ipcPipeline(stages, 'throughput'),
    },
    {
      name: workerName(label),
      side: 'peer',
      vs: [relayName(label, 'thread'), relayName(label, 'process')],
      setup: workerPipeline(stages, 'throughput'),
    },
  );
}

module.exports = defineGroup({
  name: 'actor-throughput',
  title: 'Messages per second through an actor pipeline (issue 12)',
  metric: 'throughput',
  unit: 'msg',
  notes:
    'Sources send a small object (5 fields, ~60 B as JSON), middle stages forward each message to one receiver of the next stage, the sink counts; a sample ends when the sink has counted all n. Every stage is a process or thread started once for the whole run. Relay: one ShmQueue between consecutive groups (maxsize 1000 messages), default codec (structured: v8 serialize) unless the row names one; the run is started and its end reported through two ShmQueues outside the relay. IPC: fork()ed stages, serialization json, every message routed by the parent (children have no IPC channel to each other), round robin to the next stage. worker_threads: a MessageChannel per sender/receiver pair, ports in the workers, round robin, no backpressure (the sink rate is measured).',
  competitors,
});
