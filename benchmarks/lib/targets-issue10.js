'use strict';
// Issue 10's table (PERF.md "Targets", first rows): one entry per row of the issue, with the
// figure the issue measured on main ("before") and the checks of its target column. Evaluated
// by lib/targets.js against one run; every ratio is against a peer measured in that same run.
const { C, kRefs, time, x } = require('./target-kinds');
const fmt = require('./format');
const { kWantedMajors, kEnv } = require('./nodes');

/** { p50Ns, name } of the faster (lower p50) of the RTT peers that ran. */
function bestRttPeer(find) {
  const peers = [C.rttPostMessage, C.rttSocket].map((c) => find(...c)).filter(Boolean);
  return peers.sort((a, b) => a.p50Ns - b.p50Ns)[0] ?? null;
}

/** Row 10 for one Node major: after / before in the await-after-lock group. */
function awaitCheck(major) {
  return {
    label: `Node ${major}: ≤ 1.1× before`,
    kind: 'custom',
    evaluate(find, run) {
      const g = run.groups.find((x) => x.name === 'await-after-lock');
      if (!g) return null;
      const onMajor = (r) => new RegExp(`, Node ${major} \\(`).test(r.name);
      const ok = (r) => r.status === 'ok' && onMajor(r);
      const after = g.competitors.find((r) => r.side === 'shmsync' && ok(r));
      const before = g.competitors.find((r) => r.side === 'peer' && ok(r));
      if (!after || !before) {
        const bad = g.competitors.find((r) => onMajor(r) && r.status !== 'ok');
        return {
          measured: null,
          met: null,
          note: bad
            ? `${bad.name}: ${bad.status}${bad.note ? ` (${bad.note})` : ''}`
            : `no Node ${major} binary given (set ${kEnv})`,
        };
      }
      const k = after.nsPerOp / before.nsPerOp;
      const same = after.extra?.sameProcessBeforeNs?.median;
      return {
        measured:
          `${x(k)} (${time(after.nsPerOp)} after vs ${time(before.nsPerOp)} before, ${before.name.replace(/^.*\(/, '').replace(')', '')})` +
          (same > 0 ? `; same process before its scope ${time(same)} (${x(after.nsPerOp / same)})` : ''),
        met: k <= 1.1,
      };
    },
  };
}

const kIssue10 = [
  {
    id: '1',
    figure: 'queue 64 B batched, process → process',
    before: '2.71 M/s; corked Unix socket 3.02 M/s',
    checks: [
      {
        label: '≥ 10 M msgs/s',
        kind: 'abs',
        of: C.qBatched,
        field: 'opsPerSec',
        cmp: 'higher',
        threshold: 10e6,
        show: fmt.rate,
        ref: kRefs.corked,
      },
      {
        label: '≥ 4× corked Unix socket',
        kind: 'ratio',
        of: C.qBatched,
        peer: C.corked,
        field: 'opsPerSec',
        threshold: 4,
      },
      {
        label: 'stretch ≥ 20 M msgs/s',
        kind: 'abs',
        of: C.qBatched,
        field: 'opsPerSec',
        cmp: 'higher',
        threshold: 20e6,
        show: fmt.rate,
        ref: kRefs.corked,
      },
    ],
  },
  {
    id: '1b',
    figure: 'queue 64 B batched, process → process, consumer drainSync() (zero-copy views)',
    before: '— (new API)',
    checks: [
      {
        label: '≥ 10 M msgs/s',
        kind: 'abs',
        of: C.qDrain,
        field: 'opsPerSec',
        cmp: 'higher',
        threshold: 10e6,
        show: fmt.rate,
        ref: kRefs.corked,
      },
      {
        label: '≥ 4× corked Unix socket',
        kind: 'ratio',
        of: C.qDrain,
        peer: C.corked,
        field: 'opsPerSec',
        threshold: 4,
      },
    ],
  },
  {
    id: '2',
    figure: 'queue single putSync()/getSync()',
    before: '1.10 M/s',
    checks: [
      {
        label: '≥ 4 M msgs/s',
        kind: 'abs',
        of: C.qSingle,
        field: 'opsPerSec',
        cmp: 'higher',
        threshold: 4e6,
        show: fmt.rate,
        ref: kRefs.corked,
      },
    ],
  },
  {
    id: '3',
    figure: 'queue small objects, JSON codec',
    before: '664 k/s; IPC json 334 k/s',
    checks: [
      {
        label: '≥ 1.5 M msgs/s',
        kind: 'abs',
        of: C.qJson,
        field: 'opsPerSec',
        cmp: 'higher',
        threshold: 1.5e6,
        show: fmt.rate,
        ref: kRefs.corked,
      },
      {
        label: '≥ 4× child_process IPC (small object, json)',
        kind: 'ratio',
        of: C.qJson,
        peer: C.ipcJsonObject,
        field: 'opsPerSec',
        threshold: 4,
      },
    ],
  },
  {
    id: '4',
    figure: 'ping-pong RTT, both sides await get()',
    before: '45.8 µs; postMessage 24.2 µs, Unix socket 26.8 µs',
    checks: [
      {
        label: 'p50 ≤ 12 µs',
        kind: 'abs',
        of: C.rttAsync,
        field: 'p50Ns',
        cmp: 'lower',
        threshold: 12e3,
        show: time,
        ref: kRefs.socketRtt,
      },
      {
        label: 'p50 ≤ 0.5× the best of postMessage / Unix socket',
        kind: 'custom',
        evaluate(find) {
          const s = find(...C.rttAsync);
          const p = bestRttPeer(find);
          if (!s || !p) return null;
          const k = s.p50Ns / p.p50Ns;
          return { measured: `${x(k)} ${p.name} (${time(s.p50Ns)} vs ${time(p.p50Ns)})`, met: k <= 0.5 };
        },
      },
    ],
  },
  {
    id: '5',
    figure: 'ping-pong RTT, both sides blocking getSync()',
    before: '16.8 µs',
    checks: [
      {
        label: 'p50 ≤ 8 µs',
        kind: 'abs',
        of: C.rttSync,
        field: 'p50Ns',
        cmp: 'lower',
        threshold: 8e3,
        show: time,
        ref: kRefs.socketRtt,
      },
    ],
  },
  {
    id: '6',
    figure: 'warm pool round trip, process mode (pool of 1)',
    before: '193 µs; tinypool 67 µs',
    checks: [
      {
        label: 'p50 ≤ 25 µs',
        kind: 'abs',
        of: C.poolProcess,
        field: 'p50Ns',
        cmp: 'lower',
        threshold: 25e3,
        show: time,
        ref: kRefs.tinypool,
      },
      {
        label: '≥ 2.5× tinypool child_process (p50)',
        kind: 'ratio',
        of: C.poolProcess,
        peer: C.tinypool,
        field: 'p50Ns',
        threshold: 2.5,
      },
    ],
  },
  {
    id: '7',
    figure: 'warm pool round trip, thread mode (pool of 1)',
    before: '157 µs; piscina 33.6 µs',
    checks: [
      {
        label: '≥ 1.2× piscina (p50)',
        kind: 'ratio',
        of: C.poolThread,
        peer: C.piscina,
        field: 'p50Ns',
        threshold: 1.2,
      },
    ],
  },
  {
    id: '8',
    figure: 'pcall of 8 trivial targets, cold',
    before: '651 ms; 8 forks at once 497 ms',
    checks: [
      {
        label: '≤ 1.1× 8 parallel forks until ready',
        kind: 'custom',
        evaluate(find) {
          const p = find(...C.pcallCold);
          const f = find(...C.fork8);
          if (!p || !f) return null;
          const k = p.nsPerOp / f.nsPerOp;
          return { measured: `${x(k)} (${time(p.nsPerOp)} vs ${time(f.nsPerOp)})`, met: k <= 1.1 };
        },
      },
    ],
  },
  {
    id: '9',
    figure: 'uncontended acquireSync()+release()',
    before: '68.5 ns; Atomics mutex 44.5 ns',
    checks: [
      {
        label: '≤ 1.15× the SharedArrayBuffer Atomics mutex (time)',
        kind: 'custom',
        evaluate(find) {
          const s = find(...C.lockSync);
          const p = find(...C.atomics);
          if (!s || !p) return null;
          const k = s.nsPerOp / p.nsPerOp;
          return { measured: `${x(k)} (${time(s.nsPerOp)} vs ${time(p.nsPerOp)})`, met: k <= 1.15 };
        },
      },
    ],
  },
  {
    id: '10',
    figure: '`await` cost after the first lock scope (withLock) ended, vs before',
    before: 'Node 20: 260–315 ns vs 57 ns before',
    checks: kWantedMajors.map(awaitCheck),
  },
];

module.exports = { kIssue10 };
