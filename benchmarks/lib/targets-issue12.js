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

const kIssue12 = [
  {
    id: '12.1',
    figure: 'msgs/s through a 1 → 1 relay (small object)',
    checks: [
      rate('≥ 5× child_process IPC (actors in processes)', A.relay11, A.ipc11, 5),
      rate('≥ 2× worker postMessage (actors in worker threads)', A.relay11Thread, A.worker11, 2),
      rate('info: actors in processes vs worker postMessage', A.relay11, A.worker11, null),
      rate("info: actors in processes, codec 'json', vs child_process IPC (json too)", A.relay11Json, A.ipc11, null),
    ],
  },
  {
    id: '12.2',
    figure: 'msgs/s through a 2 → 4 → 1 relay (small object)',
    checks: [
      rate('≥ 5× child_process IPC (actors in processes)', A.relay241, A.ipc241, 5),
      rate('≥ 2× worker postMessage (actors in worker threads)', A.relay241Thread, A.worker241, 2),
      rate('info: actors in processes vs worker postMessage', A.relay241, A.worker241, null),
      rate("info: actors in processes, codec 'json', vs child_process IPC (json too)", A.relay241Json, A.ipc241, null),
    ],
  },
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
