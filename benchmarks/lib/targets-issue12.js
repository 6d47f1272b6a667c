'use strict';
// Issue 12's benchmark targets (actors and relays): messages per second through 1 → 1 and
// 2 → 4 → 1 relays at least 5× the same pipeline hand-written over child_process IPC and 2× over
// worker_threads postMessage, measured in the same run (group actor-throughput), and the
// per-message latency through a 3-stage chain (group actor-latency; no threshold in the issue:
// info rows). Evaluated by lib/targets.js. The competitor names are here (not in
// lib/target-kinds.js) so this file is the one place issue 12's rows live.
const fmt = require('./format');

const kThroughput = 'actor-throughput';
const kLatency = 'actor-latency';
const relay = (t, mode, codec) =>
  `Relay ${t}, actors in ${mode === 'thread' ? 'worker threads' : 'child processes'}${codec ? `, codec '${codec}'` : ''}`;
const A = {
  relay11: [kThroughput, relay('1 → 1', 'process')],
  relay11Json: [kThroughput, relay('1 → 1', 'process', 'json')],
  relay11Thread: [kThroughput, relay('1 → 1', 'thread')],
  ipc11: [kThroughput, 'child_process IPC 1 → 1, routed through the parent (json)'],
  worker11: [kThroughput, 'worker_threads 1 → 1, MessagePorts between workers'],
  relay241: [kThroughput, relay('2 → 4 → 1', 'process')],
  relay241Json: [kThroughput, relay('2 → 4 → 1', 'process', 'json')],
  relay241Thread: [kThroughput, relay('2 → 4 → 1', 'thread')],
  ipc241: [kThroughput, 'child_process IPC 2 → 4 → 1, routed through the parent (json)'],
  worker241: [kThroughput, 'worker_threads 2 → 4 → 1, MessagePorts between workers'],
  chain: [kLatency, relay('1 → 1 → 1', 'process')],
  chainThread: [kLatency, relay('1 → 1 → 1', 'thread')],
  chainIpc: [kLatency, 'child_process IPC 1 → 1 → 1, routed through the parent (json)'],
  chainWorker: [kLatency, 'worker_threads 1 → 1 → 1, MessagePorts between workers'],
};

const rate = (label, of, peer, threshold) => ({ label, kind: 'ratio', of, peer, field: 'opsPerSec', threshold });
const p50 = (label, of, peer) => ({
  label,
  kind: 'ratio',
  of,
  peer,
  field: 'p50Ns',
  threshold: null,
  show: fmt.duration,
});

/** The throughput row of one relay topology: the issue's two thresholds and two info ratios. */
const relayThroughput = (id, topology, c) => ({
  id,
  figure: `msgs/s through a ${topology} relay (small object)`,
  checks: [
    rate('≥ 5× child_process IPC (actors in processes)', c.relay, c.ipc, 5),
    rate('≥ 2× worker postMessage (actors in worker threads)', c.relayThread, c.worker, 2),
    rate('info: actors in processes vs worker postMessage', c.relay, c.worker, null),
    rate("info: actors in processes, codec 'json', vs child_process IPC (json too)", c.relayJson, c.ipc, null),
  ],
});

const kIssue12 = [
  relayThroughput('12.1', '1 → 1', {
    relay: A.relay11,
    relayJson: A.relay11Json,
    relayThread: A.relay11Thread,
    ipc: A.ipc11,
    worker: A.worker11,
  }),
  relayThroughput('12.2', '2 → 4 → 1', {
    relay: A.relay241,
    relayJson: A.relay241Json,
    relayThread: A.relay241Thread,
    ipc: A.ipc241,
    worker: A.worker241,
  }),
  {
    id: '12.3',
    figure: 'per-message latency through a 3-stage chain, one message in flight (p50, one way)',
    checks: [
      p50('info: actors in processes vs child_process IPC', A.chain, A.chainIpc),
      p50('info: actors in worker threads vs worker postMessage', A.chainThread, A.chainWorker),
      p50('info: actors in processes vs worker postMessage', A.chain, A.chainWorker),
    ],
  },
];

module.exports = { kIssue12, A };
