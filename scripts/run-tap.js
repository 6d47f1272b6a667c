#!/usr/bin/env node
// Runs the tap suite, then checks that the suite left no segment in /dev/shm. Only what the
// suite's own processes created counts (scripts/shm-ledger.js): other programs on the machine,
// including concurrent test runs, may own shmsync segments meanwhile.
// Writes the real totals to .tap-results.json (or $SHMSYNC_TAP_RESULTS) for .ci/run.
// Exit code: non-zero on any failure or any leftover segment.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { startRun, shmsyncNames } = require('./shm-ledger');

const root = path.join(__dirname, '..');
const args = process.argv.slice(2);
const before = shmsyncNames();
const run = startRun('tap');
// The suite (and every child it forks) uses its own owner table, removed at the end.
const ownerTable = `test-owners-${run.id}`;
// tap's CLI, from its declared bin (its exports map does not expose the file itself).
const tapPackage = require.resolve('tap/package.json');
const tapBin = path.join(path.dirname(tapPackage), require(tapPackage).bin.tap);
const tap = spawnSync(process.execPath, [tapBin, ...args, '--reporter=tap'], {
  cwd: root,
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, SHMSYNC_TEST: '1', SHMSYNC_OWNER_TABLE: ownerTable, ...run.env },
  maxBuffer: 1 << 28,
});
process.stdout.write(tap.stdout || '');
// tap's own summary comment carries the real assertion totals: `# { total: N, pass: N, fail: N }`.
let passed = 0;
let failed = 0;
let summarised = false;
for (const line of (tap.stdout || '').split('\n')) {
  const m = /^# \{ total: (\d+)(?:, pass: (\d+))?(?:, fail: (\d+))?/.exec(line);
  if (m) {
    passed = Number(m[2] || 0);
    failed = Number(m[3] || 0);
    summarised = true;
  }
}
if (!summarised) {
  // No summary (tap crashed): fall back to the top-level test points, one per file.
  for (const line of (tap.stdout || '').split('\n')) {
    if (/^ok \d+/.test(line)) passed += 1;
    else if (/^not ok \d+/.test(line)) failed += 1;
  }
}
// Which assertions failed, with the file and subtest path that holds each and the first lines
// of its diagnostic: .ci/run prints these last, where a truncated log still shows them.
const failures = failureDigest(tap.stdout || '');
if (tap.status !== 0 && failures.length === 0) {
  // tap failed without a failed test point (it crashed, or was killed): say so in the digest.
  failures.push({ where: `tap exited with ${tap.signal || `status ${tap.status}`}, no failed test point`, diag: [] });
}
fs.rmSync(path.join('/dev/shm', `shmsync-${ownerTable}`), { force: true });
const leaked = run.leftovers();
run.finish();
if (leaked.length > 0) {
  console.log(`not ok - the suite left ${leaked.length} segment(s) in /dev/shm: ${leaked.slice(0, 10).join(', ')}`);
  // They are the suite's own (its ledger or its run id says so): remove them.
  for (const n of leaked) fs.rmSync(path.join('/dev/shm', n), { force: true });
  failed += 1;
} else {
  console.log('ok - the suite left no segment in /dev/shm');
  passed += 1;
}
const foreign = [...shmsyncNames()].filter((n) => !before.has(n) && !leaked.includes(n));
if (foreign.length > 0) {
  console.log(
    `# ${foreign.length} shmsync segment(s) appeared meanwhile that the suite did not create (other programs): not judged`,
  );
}
if (tap.status !== 0 && failed === 0) failed += 1;
const results = process.env.SHMSYNC_TAP_RESULTS || path.join(root, '.tap-results.json');
fs.writeFileSync(results, JSON.stringify({ passed, failed, failures }));
console.log(`tap: ${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;

/** The failed test points of a TAP stream: `file > subtest > assertion`, plus a few diagnostic lines. */
function failureDigest(stdout) {
  const lines = stdout.split('\n');
  const stack = []; // [indent, name] of the open subtests
  const out = [];
  for (let i = 0; i < lines.length && out.length < 20; i += 1) {
    const line = lines[i];
    const indent = line.length - line.trimStart().length;
    const sub = /^\s*# Subtest: (.*)$/.exec(line);
    if (sub) {
      while (stack.length > 0 && stack[stack.length - 1][0] >= indent) stack.pop();
      stack.push([indent, sub[1]]);
      continue;
    }
    const bad = /^\s*not ok \d+ - (.*)$/.exec(line);
    if (!bad || / # (TODO|SKIP)\b/i.test(bad[1])) continue; // directives are not failures
    // A failed subtest repeats as `not ok` at each enclosing level: report the innermost only.
    const name = bad[1].replace(/ # time=\S+$/, '');
    const where = [...stack.filter(([d]) => d < indent).map(([, n]) => n), name].join(' > ');
    // (a path, not a string prefix: 'file > reads' is not the parent of 'file > reads all > x')
    if (out.some((f) => f.where === where || f.where.startsWith(`${where} > `))) continue;
    const diag = [];
    if (/^\s*---$/.test(lines[i + 1] || '')) {
      for (let j = i + 2; j < lines.length && !/^\s*\.\.\.$/.test(lines[j]) && diag.length < 12; j += 1) {
        diag.push(lines[j].trim());
      }
    }
    out.push({ where, diag });
  }
  return out;
}
