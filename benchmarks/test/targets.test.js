'use strict';
// Checks of the targets section that need no measurement (node --test benchmarks/test/*.test.js, or
// `npm test --prefix benchmarks`): every competitor a target names exists in its group, and the
// issue 10 checks give met / missed / not measured on a synthetic run at their thresholds.
const test = require('node:test');
const assert = require('node:assert/strict');
const { C, kRefs } = require('../lib/target-kinds');
const { evaluateTargets, measuredTargets, targetsConsole, targetsMarkdown } = require('../lib/targets');
const { assertNamedCompetitorsExist } = require('./named-competitors');

process.env.SHMSYNC_BENCH_NODES_RESOLVED = JSON.stringify({
  nodes: [
    { execPath: '/n20', version: 'v20.1.0', major: 20, current: true },
    { execPath: '/n24', version: 'v24.1.0', major: 24, current: false },
  ],
  problems: [],
});
const groups = require('../groups');

test('every competitor a target or reference names is in its group', () => {
  assertNamedCompetitorsExist(groups, {
    ...C,
    ...Object.fromEntries(Object.entries(kRefs).map(([k, r]) => [k, r.of])),
  });
});

test('await-after-lock has one pair per Node binary', () => {
  const g = groups.find((x) => x.name === 'await-after-lock');
  assert.deepEqual(
    g.competitors.map((c) => c.side),
    ['shmsync', 'peer', 'shmsync', 'peer'],
  );
  assert.match(g.competitors[2].name, /, Node 24 \(v24\.1\.0\)$/);
  assert.match(g.notes, /Not measured here: Node 22/);
});

/** A run with the given competitors' results: { 'group/name': result fields }. */
function fakeRun(results) {
  const byGroup = new Map();
  for (const [key, r] of Object.entries(results)) {
    const [group, ...rest] = key.split('/');
    if (!byGroup.has(group)) byGroup.set(group, []);
    byGroup.get(group).push({ name: rest.join('/'), side: r.side ?? 'shmsync', status: 'ok', ...r });
  }
  return { groups: [...byGroup].map(([name, competitors]) => ({ name, competitors })) };
}
const at = (c) => c.join('/');
const verdictOf = (rows, id, re) => rows.find((r) => r.id === id && re.test(r.check));

test('issue 10 checks at and beyond their thresholds', () => {
  const run = fakeRun({
    [at(C.qBatched)]: { opsPerSec: 10e6 },
    [at(C.corked)]: { opsPerSec: 2.6e6, side: 'peer' },
    [at(C.rttAsync)]: { p50Ns: 12e3 },
    [at(C.rttPostMessage)]: { p50Ns: 30e3, side: 'peer' },
    [at(C.rttSocket)]: { p50Ns: 23e3, side: 'peer' },
    [at(C.pcallCold)]: { nsPerOp: 550e6 },
    [at(C.fork8)]: { nsPerOp: 500e6, side: 'peer' },
    [at(C.lockSync)]: { nsPerOp: 50 },
    [at(C.atomics)]: { nsPerOp: 44, side: 'peer' },
    'await-after-lock/await after a withLock scope ran and ended, Node 20 (v20.1.0)': { nsPerOp: 66 },
    'await-after-lock/await before any lock scope, Node 20 (v20.1.0)': { nsPerOp: 60, side: 'peer' },
    'await-after-lock/await after a withLock scope ran and ended, Node 24 (v24.1.0)': { nsPerOp: 67 },
    'await-after-lock/await before any lock scope, Node 24 (v24.1.0)': { nsPerOp: 60, side: 'peer' },
  });
  run.groups
    .find((g) => g.name === 'ipc-throughput')
    .competitors.push({ name: C.qDrain[1], side: 'shmsync', status: 'skipped', note: 'no drainSync here' });
  const rows = measuredTargets(evaluateTargets(run));
  assert.equal(verdictOf(rows, '1', /^≥ 10 M/).met, true);
  assert.equal(verdictOf(rows, '1', /4× corked/).met, false); // 3.85×
  assert.equal(verdictOf(rows, '1b', /^≥ 10 M/).measured, null);
  assert.match(verdictOf(rows, '1b', /^≥ 10 M/).note, /skipped: no drainSync here/);
  assert.equal(verdictOf(rows, '4', /p50 ≤ 12/).met, true);
  const best = verdictOf(rows, '4', /0\.5×/);
  assert.equal(best.met, false); // 12 / 23 = 0.52: against the faster peer, the socket
  assert.match(best.measured, /Unix socket/);
  assert.equal(verdictOf(rows, '8', /1\.1×/).met, true); // exactly 1.1×
  assert.equal(verdictOf(rows, '9', /1\.15×/).met, true); // 1.136×
  assert.equal(verdictOf(rows, '10', /Node 20/).met, true); // 1.1×
  assert.equal(verdictOf(rows, '10', /Node 24/).met, false); // 1.117×
  const n22 = verdictOf(rows, '10', /Node 22/);
  assert.equal(n22.measured, null);
  assert.match(n22.note, /no Node 22 binary given \(set SHMSYNC_BENCH_NODES\)/);
  assert.ok(!rows.some((r) => r.id === '6'), 'targets of groups that did not run are left out');
  const text = targetsConsole(rows);
  assert.match(text, /MISSED\s+≥ 4× corked Unix socket: 3\.85×/);
  assert.match(text, /issue 10: \d+ of \d+ checks met, \d+ missed, \d+ not measured/);
  assert.match(targetsMarkdown(rows), /^\| 1 \| queue 64 B batched, process → process \| 2\.71 M\/s/m);
});

test('row 10 says why a Node version has no figure', () => {
  const run = fakeRun({
    'await-after-lock/await after a withLock scope ran and ended, Node 22 (v22.1.0)': { nsPerOp: 70 },
  });
  run.groups[0].competitors.push({
    name: 'await before any lock scope, Node 22 (v22.1.0)',
    side: 'peer',
    status: 'error',
    note: 'child exited',
  });
  const rows = evaluateTargets(run);
  assert.match(verdictOf(rows, '10', /Node 22/).note, /before any lock scope, Node 22 .*: error \(child exited\)/);
  assert.match(verdictOf(rows, '10', /Node 20/).note, /no Node 20 binary given/);
});

test('issue 13: request() round trip within 2× of navigator.locks', () => {
  const g = groups.find((x) => x.name === 'web-locks');
  assert.ok(g, 'the web-locks group is listed');
  assert.match(g.notes, /Node 24 \(v24\.1\.0, \/n24\)/, 'row 1 runs under the Node >= 24 binary given');
  const rowsAt = (navNs) =>
    measuredTargets(
      evaluateTargets(
        fakeRun({
          [at(C.webLocksRequest)]: { nsPerOp: 20e3 },
          [at(C.navigatorLocks)]: { nsPerOp: navNs, side: 'peer' },
          [at(C.webLocksLockfile)]: { nsPerOp: 400e3, side: 'peer' },
        }),
      ),
    );
  assert.equal(verdictOf(rowsAt(10e3), '13.1', /navigator\.locks/).met, true); // exactly 2.0×
  assert.equal(verdictOf(rowsAt(9.9e3), '13.1', /navigator\.locks/).met, false); // 2.02×
  const info = verdictOf(rowsAt(10e3), '13.1', /proper-lockfile/);
  assert.equal(info.met, null);
  assert.match(info.measured, /^0\.050× the time \(20\.0 µs vs 400 µs\)/);
  const rows = rowsAt(10e3);
  assert.match(targetsConsole(rows), /issue 13 \(Web Locks across processes\)\n\s+13\.1 .*\n\s+met\s+≤ 2\.0×/);
  assert.match(targetsMarkdown(rows), /#### issue 13 [^\n]*\n\n\| # \| row \| target \| measured \| verdict \|/);
  assert.ok(!rows.some((r) => r.part === 'issue10'), 'issue 10 targets of groups that did not run are left out');
});

test('issue 13: no Node >= 24 given -> not measured, with the reason', () => {
  const run = fakeRun({ [at(C.webLocksRequest)]: { nsPerOp: 20e3 } });
  run.groups[0].competitors.push({
    name: C.navigatorLocks[1],
    side: 'peer',
    status: 'skipped',
    note: 'not measured: needs Node ≥ 24 (navigator.locks); name one in SHMSYNC_BENCH_NODES',
  });
  const row = verdictOf(measuredTargets(evaluateTargets(run)), '13.1', /navigator\.locks/);
  assert.equal(row.measured, null);
  assert.match(row.note, /skipped \(not measured: needs Node ≥ 24/);
  assert.match(targetsConsole([row]), /not measured .*needs Node ≥ 24/);
});
