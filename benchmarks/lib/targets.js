'use strict';
// PERF.md's "Targets" table checked against one run's results: for every target, the measured
// figure or ratio (against the peer measured in the same run), the threshold, and met / not met.
//
// Absolute thresholds (ns, µs, msgs/s, MB/s) come from PERF.md's quiet machine; this machine is
// shared and its absolute figures move with the load. Where PERF.md lists a figure for a peer
// that ran in this same run, an absolute check also shows a *load-normalised* value: the
// measured value × (PERF.md's figure for that peer / the peer's figure in this run). It is an
// estimate, labelled as such; the verdict column is always the raw check.
const fmt = require('./format');

/** Looks a competitor up in a run: { result } or null when absent, pending, skipped or failed. */
function finder(run) {
  return (group, name) => {
    const g = run.groups.find((x) => x.name === group);
    const r = g && g.competitors.find((c) => c.name === name);
    return r && r.status === 'ok' ? r : null;
  };
}

const lower = (a, b) => a <= b;
const higher = (a, b) => a >= b;

// Reference peers for load normalisation: PERF.md's figure and where the same peer is in a run.
const kRefs = {
  atomics: {
    group: 'lock-uncontended',
    name: 'SharedArrayBuffer Atomics mutex',
    field: 'nsPerOp',
    perf: 23,
    unit: 'ns',
    label: 'Atomics mutex 23 ns',
  },
  socketRtt: {
    group: 'ipc-rtt',
    name: 'Unix socket, framed 64 B',
    field: 'p50Ns',
    perf: 29e3,
    label: 'Unix socket RTT 29 µs',
  },
  corked: {
    group: 'ipc-throughput',
    name: 'Unix socket, framed 64 B, corked',
    field: 'opsPerSec',
    perf: 2.04e6,
    label: 'corked Unix socket 2.04 M/s',
  },
  tinypool: {
    group: 'pool-rtt',
    name: 'tinypool (child_process)',
    field: 'p50Ns',
    perf: 119e3,
    label: 'tinypool RTT 119 µs',
  },
};

const G = {
  lockSync: ['lock-uncontended', 'Mutex acquireSync()+release()'],
  lockAsync: ['lock-uncontended', 'Mutex (await acquire()).release()'],
  contended: ['lock-contended', 'Mutex, 2 processes, acquireSync()+release()'],
  handoffSync: ['lock-handoff', 'Mutex hand-off, waiter in acquireSync()'],
  handoffPromise: ['lock-handoff', 'Mutex hand-off, waiter awaiting acquire()'],
  deathSync: ['lock-owner-death', 'Mutex: kill() holder, then acquireSync()'],
  deathPromise: ['lock-owner-death', 'Mutex: kill() holder, acquire() already waiting'],
  qBatched: ['ipc-throughput', 'Queue 64 B, putManySync()/getMany() ×256'],
  qSingle: ['ipc-throughput', 'Queue 64 B, putSync()/getSync() one by one'],
  qJson: ['ipc-throughput', 'Queue small objects, JSON codec, putManySync()/getMany() ×256'],
  rttSync: ['ipc-rtt', 'Queue ping-pong 64 B, both sides blocking in getSync()'],
  rttAsync: ['ipc-rtt', 'Queue ping-pong 64 B, both sides await get()/put()'],
  pcallCold: ['pcall-cold', 'pcall of 8 trivial targets, cold (process mode)'],
  pool1: ['pool-rtt', 'pcall through a warm ProcessPool, size 1, process mode'],
  result: ['pcall-result', 'pcall result, warm ProcessPool (process mode)'],
};

const time = (ns) => fmt.duration(ns);
const x = (r) => `${fmt.sig(r, 3)}×`;

/**
 * Check kinds:
 *   abs   { of, field, cmp, threshold, show, ref? }        measured value vs a threshold
 *   ratio { of, peer: [group, name], field, better, threshold } how many times better than the peer
 *   custom { evaluate(find) -> { measured, met } }
 */
const kTargets = [
  {
    figure: 'Mutex sync lock+unlock, uncontended',
    checks: [
      {
        label: '≤ 60 ns',
        kind: 'abs',
        of: G.lockSync,
        field: 'nsPerOp',
        cmp: lower,
        threshold: 60,
        show: time,
        ref: kRefs.atomics,
      },
      {
        label: '≥ 20× fs-ext flockSync',
        kind: 'ratio',
        of: G.lockSync,
        peer: ['lock-uncontended', 'fs-ext flockSync() ex+un'],
        field: 'nsPerOp',
        threshold: 20,
      },
      {
        label: '≥ 5000× proper-lockfile (lockSync)',
        kind: 'ratio',
        of: G.lockSync,
        peer: ['lock-uncontended', 'proper-lockfile lockSync()+release()'],
        field: 'nsPerOp',
        threshold: 5000,
      },
      {
        label: 'stretch ≤ 30 ns',
        kind: 'abs',
        of: G.lockSync,
        field: 'nsPerOp',
        cmp: lower,
        threshold: 30,
        show: time,
        ref: kRefs.atomics,
      },
      {
        label: 'stretch: parity with the Atomics mutex (≥ 0.77×, i.e. 30 ns vs 23 ns)',
        kind: 'ratio',
        of: G.lockSync,
        peer: ['lock-uncontended', 'SharedArrayBuffer Atomics mutex'],
        field: 'nsPerOp',
        threshold: 23 / 30,
      },
    ],
  },
  {
    figure: 'Mutex Promise acquire+release, uncontended',
    checks: [
      {
        label: '≤ 0.5× async-mutex time (≥ 2× faster)',
        kind: 'ratio',
        of: G.lockAsync,
        peer: ['lock-uncontended', 'async-mutex acquire()+release()'],
        field: 'nsPerOp',
        threshold: 2,
      },
    ],
  },
  {
    figure: 'Mutex 2-process contended throughput',
    checks: [
      {
        label: '≥ 1 M acquisitions/s total',
        kind: 'abs',
        of: G.contended,
        field: 'opsPerSec',
        cmp: higher,
        threshold: 1e6,
        show: fmt.rate,
      },
      {
        label: 'no process starved (each ≥ 25 % of acquisitions in the median sample, > 5 % in every sample)',
        kind: 'custom',
        evaluate(find) {
          const r = find(...G.contended);
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
        of: G.contended,
        peer: ['lock-contended', 'fs-ext flockSync() ex+un, 2 processes'],
        field: 'opsPerSec',
        threshold: null,
      },
    ],
  },
  {
    figure: 'lock hand-off to a blocked waiter in another process',
    checks: [
      {
        label: 'sync p50 ≤ 15 µs',
        kind: 'abs',
        of: G.handoffSync,
        field: 'p50Ns',
        cmp: lower,
        threshold: 15e3,
        show: time,
        ref: kRefs.socketRtt,
      },
      {
        label: 'Promise p50 ≤ 25 µs',
        kind: 'abs',
        of: G.handoffPromise,
        field: 'p50Ns',
        cmp: lower,
        threshold: 25e3,
        show: time,
        ref: kRefs.socketRtt,
      },
      {
        label: 'info: sync vs flock hand-off (p50)',
        kind: 'ratio',
        of: G.handoffSync,
        peer: ['lock-handoff', 'flock hand-off, waiter in fs-ext flockSync()'],
        field: 'p50Ns',
        threshold: null,
      },
    ],
  },
  {
    figure: 'owner killed while holding → next acquirer has the lock',
    checks: [
      {
        label: 'p99 ≤ 5 ms (waiter already parked)',
        kind: 'abs',
        of: G.deathPromise,
        field: 'p99Ns',
        cmp: lower,
        threshold: 5e6,
        show: time,
      },
      {
        label: 'p99 ≤ 5 ms (kill, then acquireSync)',
        kind: 'abs',
        of: G.deathSync,
        field: 'p99Ns',
        cmp: lower,
        threshold: 5e6,
        show: time,
      },
      {
        label: 'info: vs proper-lockfile stale minimum 5 s (documented, not measured; p99)',
        kind: 'ratio',
        of: G.deathPromise,
        peer: ['lock-owner-death', 'proper-lockfile, stale: 5000 (its minimum)'],
        field: 'p99Ns',
        threshold: null,
      },
    ],
  },
  {
    figure: 'queue 64 B, 1 producer → 1 consumer process, batched',
    checks: [
      {
        label: '≥ 10 M msgs/s',
        kind: 'abs',
        of: G.qBatched,
        field: 'opsPerSec',
        cmp: higher,
        threshold: 10e6,
        show: fmt.rate,
        ref: kRefs.corked,
      },
      {
        label: '≥ 5× corked Unix socket',
        kind: 'ratio',
        of: G.qBatched,
        peer: ['ipc-throughput', 'Unix socket, framed 64 B, corked'],
        field: 'opsPerSec',
        threshold: 5,
      },
      {
        label: 'stretch ≥ 20 M msgs/s',
        kind: 'abs',
        of: G.qBatched,
        field: 'opsPerSec',
        cmp: higher,
        threshold: 20e6,
        show: fmt.rate,
        ref: kRefs.corked,
      },
    ],
  },
  {
    figure: 'queue 64 B, single put/get calls',
    checks: [
      {
        label: '≥ 3 M msgs/s',
        kind: 'abs',
        of: G.qSingle,
        field: 'opsPerSec',
        cmp: higher,
        threshold: 3e6,
        show: fmt.rate,
        ref: kRefs.corked,
      },
    ],
  },
  {
    figure: 'queue small objects (JSON codec)',
    checks: [
      {
        label: '≥ 1 M msgs/s',
        kind: 'abs',
        of: G.qJson,
        field: 'opsPerSec',
        cmp: higher,
        threshold: 1e6,
        show: fmt.rate,
        ref: kRefs.corked,
      },
      {
        label: '≥ 3× child_process IPC (small object, json)',
        kind: 'ratio',
        of: G.qJson,
        peer: ['ipc-throughput', 'child_process IPC, small object, json'],
        field: 'opsPerSec',
        threshold: 3,
      },
    ],
  },
  {
    figure: 'queue ping-pong RTT between processes',
    checks: [
      {
        label: 'p50 ≤ 10 µs (blocking getSync)',
        kind: 'abs',
        of: G.rttSync,
        field: 'p50Ns',
        cmp: lower,
        threshold: 10e3,
        show: time,
        ref: kRefs.socketRtt,
      },
      {
        label: 'info: Promise variant p50 (await get)',
        kind: 'abs',
        of: G.rttAsync,
        field: 'p50Ns',
        cmp: lower,
        threshold: null,
        show: time,
        ref: kRefs.socketRtt,
      },
      {
        label: 'info: blocking vs Unix socket (p50)',
        kind: 'ratio',
        of: G.rttSync,
        peer: ['ipc-rtt', 'Unix socket, framed 64 B'],
        field: 'p50Ns',
        threshold: null,
      },
      {
        label: 'info: blocking vs worker postMessage (p50)',
        kind: 'ratio',
        of: G.rttSync,
        peer: ['ipc-rtt', 'worker postMessage (thread)'],
        field: 'p50Ns',
        threshold: null,
      },
    ],
  },
  {
    figure: 'pcall of 8 trivial targets, cold',
    checks: [
      {
        label: '≤ 1.5× one fork',
        kind: 'custom',
        evaluate(find) {
          const p = find(...G.pcallCold);
          const f = find('pcall-cold', 'child_process.fork() until ready, one child');
          if (!p || !f) return null;
          const k = p.nsPerOp / f.nsPerOp;
          return { measured: `${x(k)} one fork (${time(p.nsPerOp)} vs ${time(f.nsPerOp)})`, met: k <= 1.5 };
        },
      },
      {
        label: 'info: vs 8 forks at once (the floor on this machine)',
        kind: 'custom',
        evaluate(find) {
          const p = find(...G.pcallCold);
          const f = find('pcall-cold', 'child_process.fork() until ready, 8 children at once');
          if (!p || !f) return null;
          return { measured: `${x(p.nsPerOp / f.nsPerOp)} 8 parallel forks (${time(f.nsPerOp)})`, met: null };
        },
      },
    ],
  },
  {
    figure: 'pcall through a warm pool, sequential round trip',
    checks: [
      {
        label: 'p50 ≤ 30 µs (pool of 1, process mode)',
        kind: 'abs',
        of: G.pool1,
        field: 'p50Ns',
        cmp: lower,
        threshold: 30e3,
        show: time,
        ref: kRefs.tinypool,
      },
      {
        label: '≥ 4× tinypool child_process (p50)',
        kind: 'ratio',
        of: G.pool1,
        peer: ['pool-rtt', 'tinypool (child_process)'],
        field: 'p50Ns',
        threshold: 4,
      },
      {
        label: 'info: thread mode vs piscina (p50)',
        kind: 'ratio',
        of: ['pool-rtt', 'pcall through a warm ProcessPool, size 1, thread mode'],
        peer: ['pool-rtt', 'piscina (worker thread)'],
        field: 'p50Ns',
        threshold: null,
      },
    ],
  },
  {
    figure: 'result of 10 MiB back from a child',
    checks: [
      {
        label: '≥ 500 MB/s',
        kind: 'custom',
        evaluate(find) {
          const r = find(...G.result);
          if (!r) return null;
          const mbps = (r.opsPerSec * 10 * 1024 * 1024) / 1e6;
          return { measured: fmt.megabytes(mbps * 1e6), met: mbps >= 500 };
        },
      },
      {
        label: "info: vs child_process IPC 'advanced' (same Buffer)",
        kind: 'ratio',
        of: G.result,
        peer: ['pcall-result', "child_process IPC, serialization 'advanced'"],
        field: 'opsPerSec',
        threshold: null,
        show: (perSec) => fmt.megabytes(perSec * 10 * 1024 * 1024),
      },
    ],
  },
];

/** Higher-is-better ratio of shmsync over the peer for `field`. */
function betterRatio(field, s, p) {
  return field === 'opsPerSec' ? s[field] / p[field] : p[field] / s[field];
}

function normalised(find, check, value) {
  const ref = check.ref;
  if (!ref) return null;
  const r = find(ref.group, ref.name);
  if (!r || !(r[ref.field] > 0)) return null;
  const v = value * (ref.perf / r[ref.field]);
  const met = check.threshold === null ? null : check.cmp(v, check.threshold);
  return {
    text: `≈ ${check.show(v)} load-normalised (${ref.label} in PERF.md, ${check.show === fmt.rate ? fmt.rate(r[ref.field]) : time(r[ref.field])} here)`,
    met,
  };
}

/** Evaluates every target against `run`. Returns rows { figure, check, measured, met, normalised }. */
function evaluateTargets(run) {
  const find = finder(run);
  const rows = [];
  for (const t of kTargets) {
    for (const c of t.checks) {
      const row = {
        figure: t.figure,
        check: c.label,
        measured: null,
        met: null,
        normalised: null,
        info: c.threshold === null,
      };
      if (c.kind === 'custom') {
        const out = c.evaluate(find);
        if (out) Object.assign(row, out);
        row.info = out ? out.met === null : row.info;
      } else {
        const s = find(...c.of);
        const p = c.kind === 'ratio' ? find(...c.peer) : null;
        if (s && (c.kind === 'abs' || p)) {
          if (c.kind === 'abs') {
            const v = s[c.field];
            row.measured = c.show(v);
            row.met = c.threshold === null ? null : c.cmp(v, c.threshold);
            const n = normalised(find, c, v);
            if (n) {
              row.normalised = n.text;
              row.normalisedMet = n.met;
            }
          } else {
            const k = betterRatio(c.field, s, p);
            const show = c.show ?? (c.field === 'opsPerSec' ? fmt.rate : time);
            row.measured = `${x(k)} (${show(s[c.field])} vs ${show(p[c.field])})`;
            row.met = c.threshold === null ? null : k >= c.threshold;
          }
        }
      }
      rows.push(row);
    }
  }
  return rows;
}

function verdict(row) {
  if (row.measured === null) return 'not measured';
  if (row.met === null) return 'info';
  const base = row.met ? 'met' : 'NOT met';
  if (row.normalisedMet === undefined || row.normalisedMet === null || row.normalisedMet === row.met) return base;
  return `${base} (load-normalised: ${row.normalisedMet ? 'met' : 'not met'})`;
}

function targetsConsole(rows) {
  const out = ['\ntargets — PERF.md "Targets", this run'];
  let last = null;
  for (const r of rows) {
    if (r.figure !== last) {
      out.push(`  ${r.figure}`);
      last = r.figure;
    }
    const m = r.measured === null ? '—' : r.measured;
    out.push(`    ${verdict(r).padEnd(12)} ${r.check}: ${m}${r.normalised ? `; ${r.normalised}` : ''}`);
  }
  return out.join('\n');
}

function targetsMarkdown(rows) {
  const esc = (c) => String(c).replace(/\|/g, '\\|');
  const lines = [
    '### targets: PERF.md "Targets", this run',
    '',
    'Ratios are against the peer measured in this run. Absolute thresholds are PERF.md\'s quiet-machine figures; where a reference peer of PERF.md ran here too, the load-normalised estimate (measured × PERF figure of that peer / its figure here) is shown next to the raw value. The verdict is the raw check; "info" rows have no threshold.',
    '',
    '| target (PERF.md) | check | measured | verdict |',
    '| --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    const m = r.measured === null ? '—' : r.measured + (r.normalised ? `<br>${r.normalised}` : '');
    lines.push(`| ${esc(r.figure)} | ${esc(r.check)} | ${esc(m)} | ${esc(verdict(r))} |`);
  }
  return lines.join('\n');
}

module.exports = { evaluateTargets, targetsConsole, targetsMarkdown, kTargets };
