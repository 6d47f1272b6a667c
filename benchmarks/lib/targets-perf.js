'use strict';
// PERF.md's targets that are met on main already ("keep them met") and its other rows that are
// not in issue 10's table. Evaluated by lib/targets.js; see lib/targets-issue10.js for the rest.
const { C, kRefs, time } = require('./target-kinds');
const fmt = require('./format');

const kPerf = [
  {
    id: 'P1',
    figure: 'Mutex sync lock+unlock, uncontended',
    checks: [
      {
        label: '≥ 20× fs-ext flockSync',
        kind: 'ratio',
        of: C.lockSync,
        peer: C.flockSync,
        field: 'nsPerOp',
        threshold: 20,
      },
    ],
  },
  {
    id: 'P2',
    figure: 'Mutex Promise acquire+release, uncontended',
    checks: [
      {
        label: '≤ 0.5× async-mutex time (≥ 2× faster)',
        kind: 'ratio',
        of: C.lockAsync,
        peer: C.asyncMutex,
        field: 'nsPerOp',
        threshold: 2,
      },
    ],
  },
  {
    id: 'P3',
    figure: 'Mutex 2-process contended',
    checks: [
      {
        label: '≥ 1 M acquisitions/s total',
        kind: 'abs',
        of: C.contended,
        field: 'opsPerSec',
        cmp: 'higher',
        threshold: 1e6,
        show: fmt.rate,
      },
      {
        label: 'no process starved (each ≥ 25 % of acquisitions in the median sample, > 5 % in every sample)',
        kind: 'custom',
        evaluate(find) {
          const r = find(...C.contended);
          if (!r || !r.extra) return null;
          const med = r.extra.minShare.median;
          const worst = r.extra.minShare.min;
          return {
            measured: `min share ${(med * 100).toFixed(0)} % (median), ${(worst * 100).toFixed(0)} % (worst sample)`,
            met: med >= 0.25 && worst > 0.05,
          };
        },
      },
      {
        label: 'info: vs the same with fs-ext flock',
        kind: 'ratio',
        of: C.contended,
        peer: C.contendedFlock,
        field: 'opsPerSec',
        threshold: null,
      },
    ],
  },
  {
    id: 'P4',
    figure: 'lock hand-off to a blocked waiter in another process',
    checks: [
      {
        label: 'sync p50 ≤ 15 µs',
        kind: 'abs',
        of: C.handoffSync,
        field: 'p50Ns',
        cmp: 'lower',
        threshold: 15e3,
        show: time,
        ref: kRefs.socketRtt,
      },
      {
        label: 'Promise p50 ≤ 25 µs',
        kind: 'abs',
        of: C.handoffPromise,
        field: 'p50Ns',
        cmp: 'lower',
        threshold: 25e3,
        show: time,
        ref: kRefs.socketRtt,
      },
    ],
  },
  {
    id: 'P5',
    figure: 'owner killed while holding → next acquirer has the lock',
    checks: [
      {
        label: 'p99 ≤ 5 ms (waiter already parked)',
        kind: 'abs',
        of: C.deathPromise,
        field: 'p99Ns',
        cmp: 'lower',
        threshold: 5e6,
        show: time,
      },
      {
        label: 'p99 ≤ 5 ms (kill, then acquireSync)',
        kind: 'abs',
        of: C.deathSync,
        field: 'p99Ns',
        cmp: 'lower',
        threshold: 5e6,
        show: time,
      },
    ],
  },
  {
    id: 'P6',
    figure: 'result of 10 MiB back from a child',
    checks: [
      {
        label: '≥ 500 MB/s',
        kind: 'custom',
        evaluate(find) {
          const r = find(...C.result);
          if (!r) return null;
          const mbps = (r.opsPerSec * 10 * 1024 * 1024) / 1e6;
          return { measured: fmt.megabytes(mbps * 1e6), met: mbps >= 500 };
        },
      },
      {
        label: "info: vs child_process IPC 'advanced' (same Buffer)",
        kind: 'ratio',
        of: C.result,
        peer: C.resultIpc,
        field: 'opsPerSec',
        threshold: null,
        show: (perSec) => fmt.megabytes(perSec * 10 * 1024 * 1024),
      },
    ],
  },
];

module.exports = { kPerf };
