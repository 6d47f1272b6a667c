'use strict';
// Issue 12's targets (lib/targets-issue12.js) without measuring: every competitor they name is in
// its group, and the checks give met / missed / info on a synthetic run at their thresholds.
const test = require('node:test');
const assert = require('node:assert/strict');
const { A } = require('../lib/targets-issue12');
const { evaluateTargets, measuredTargets, targetsConsole, targetsMarkdown } = require('../lib/targets');
const { assertNamedCompetitorsExist } = require('./named-competitors');

const groups = require('../groups');

test('every competitor an issue 12 target names is in its group', () => {
  assertNamedCompetitorsExist(groups, A);
});

test('issue 12 checks at and beyond their thresholds', () => {
  const comp = (of, fields, side) => ({ name: of[1], side, status: 'ok', ...fields });
  const run = {
    groups: [
      {
        name: 'actor-throughput',
        competitors: [
          comp(A.relay11, { opsPerSec: 500e3 }, 'shmsync'),
          comp(A.relay11Thread, { opsPerSec: 600e3 }, 'shmsync'),
          comp(A.ipc11, { opsPerSec: 100e3 }, 'peer'), // exactly 5×
          comp(A.worker11, { opsPerSec: 301e3 }, 'peer'), // 1.99×
        ],
      },
      {
        name: 'actor-latency',
        competitors: [
          comp(A.chain, { p50Ns: 20e3 }, 'shmsync'),
          comp(A.chainThread, { p50Ns: 10e3 }, 'shmsync'),
          comp(A.chainIpc, { p50Ns: 100e3 }, 'peer'),
          comp(A.chainWorker, { p50Ns: 40e3 }, 'peer'),
        ],
      },
    ],
  };
  const rows = measuredTargets(evaluateTargets(run));
  const at = (id, re) => rows.find((r) => r.id === id && re.test(r.check));
  assert.equal(at('12.1', /5× child_process IPC/).met, true);
  assert.equal(at('12.1', /2× worker postMessage/).met, false);
  assert.equal(at('12.1', /^info/).met, null);
  assert.ok(!rows.some((r) => r.id === '12.2'), '2 → 4 → 1 was not in this run: its rows are left out');
  assert.match(at('12.3', /threads vs worker postMessage/).measured, /^4\.00× \(10\.0 µs vs 40\.0 µs\)/);
  assert.ok(!rows.some((r) => r.part === 'issue10'), 'issue 10 targets of groups that did not run are left out');
  assert.match(targetsConsole(rows), /issue 12 \(actors and relays\)\n\s+12\.1 .*\n\s+met\s+≥ 5× child_process IPC/);
  assert.match(targetsMarkdown(rows), /#### issue 12 [^\n]*\n\n\| # \| row \| target \| measured \| verdict \|/);
});
