'use strict';
// Shared vocabulary of the target lists (lib/targets-issue10.js, lib/targets-perf.js): where
// each competitor is in a run ([group, competitor name]), the reference peers used for load
// normalisation, and the formatters. A renamed competitor must be renamed here too.
const fmt = require('./format');

const C = {
  lockSync: ['lock-uncontended', 'Mutex acquireSync()+release()'],
  lockAsync: ['lock-uncontended', 'Mutex (await acquire()).release()'],
  atomics: ['lock-uncontended', 'SharedArrayBuffer Atomics mutex'],
  flockSync: ['lock-uncontended', 'fs-ext flockSync() ex+un'],
  asyncMutex: ['lock-uncontended', 'async-mutex acquire()+release()'],
  contended: ['lock-contended', 'Mutex, 2 processes, acquireSync()+release()'],
  contendedFlock: ['lock-contended', 'fs-ext flockSync() ex+un, 2 processes'],
  handoffSync: ['lock-handoff', 'Mutex hand-off, waiter in acquireSync()'],
  handoffPromise: ['lock-handoff', 'Mutex hand-off, waiter awaiting acquire()'],
  deathSync: ['lock-owner-death', 'Mutex: kill() holder, then acquireSync()'],
  deathPromise: ['lock-owner-death', 'Mutex: kill() holder, acquire() already waiting'],
  qBatched: ['ipc-throughput', 'Queue 64 B, putManySync()/getMany() ×256'],
  qDrain: ['ipc-throughput', 'Queue 64 B, putManySync() ×256 / drainSync() zero-copy views'],
  qSingle: ['ipc-throughput', 'Queue 64 B, putSync()/getSync() one by one'],
  qJson: ['ipc-throughput', 'Queue small objects, JSON codec, putManySync()/getMany() ×256'],
  corked: ['ipc-throughput', 'Unix socket, framed 64 B, corked'],
  ipcJsonObject: ['ipc-throughput', 'child_process IPC, small object, json'],
  rttSync: ['ipc-rtt', 'Queue ping-pong 64 B, both sides blocking in getSync()'],
  rttAsync: ['ipc-rtt', 'Queue ping-pong 64 B, both sides await get()/put()'],
  rttPostMessage: ['ipc-rtt', 'worker postMessage (thread)'],
  rttSocket: ['ipc-rtt', 'Unix socket, framed 64 B'],
  poolProcess: ['pool-rtt', 'pcall through a warm ProcessPool, size 1, process mode'],
  poolThread: ['pool-rtt', 'pcall through a warm ProcessPool, size 1, thread mode'],
  tinypool: ['pool-rtt', 'tinypool (child_process)'],
  piscina: ['pool-rtt', 'piscina (worker thread)'],
  pcallCold: ['pcall-cold', 'pcall of 8 trivial targets, cold (process mode)'],
  fork8: ['pcall-cold', 'child_process.fork() until ready, 8 children at once'],
  result: ['pcall-result', 'pcall result, warm ProcessPool (process mode)'],
  resultIpc: ['pcall-result', "child_process IPC, serialization 'advanced'"],
  webLocksRequest: ['web-locks', 'locks.request(name, cb) round trip, uncontended'],
  navigatorLocks: ['web-locks', "navigator.locks.request(name, cb), Node's in-process Web Locks"],
  webLocksLockfile: ['web-locks', 'proper-lockfile lock()+release() async'],
  rwShared4: ['web-locks', 'RwLock shared, 4 processes, acquireSharedSync()+release()'],
  rwExclusive4: ['web-locks', 'RwLock exclusive, 4 processes, acquireExclusiveSync()+release()'],
};

// Reference peers for load normalisation: PERF.md's figure and where the same peer is in a run.
const kRefs = {
  atomics: { of: C.atomics, field: 'nsPerOp', perf: 23, label: 'Atomics mutex 23 ns' },
  socketRtt: { of: C.rttSocket, field: 'p50Ns', perf: 29e3, label: 'Unix socket RTT 29 µs' },
  corked: { of: C.corked, field: 'opsPerSec', perf: 2.04e6, label: 'corked Unix socket 2.04 M/s' },
  tinypool: { of: C.tinypool, field: 'p50Ns', perf: 119e3, label: 'tinypool RTT 119 µs' },
};

const time = (ns) => fmt.duration(ns);
const x = (r) => `${fmt.sig(r, 3)}×`;

module.exports = { C, kRefs, time, x };
