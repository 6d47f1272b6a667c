#!/usr/bin/env node
// Runs the tap suite, then checks that /dev/shm holds no shmsync segment the suite created.
// Writes the real totals to .tap-results.json for .ci/run. Exit code: non-zero on any failure
// or any leftover segment.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { mappedSegments } = require('./mapped-segments');
const { mappedInodes, isMappedByInode } = require('./mapped-inodes');

const root = path.join(__dirname, '..');
const listShm = () => new Set(fs.readdirSync('/dev/shm').filter((n) => n.startsWith('shmsync')));
const before = listShm();
const args = process.argv.slice(2);
// The suite (and every child it forks) uses its own owner table, removed at the end, so a run
// leaves /dev/shm exactly as it found it.
const ownerTable = `test-owners-${process.pid}`;
// tap's CLI, from its declared bin (its exports map does not expose the file itself).
const tapPackage = require.resolve('tap/package.json');
const tapBin = path.join(path.dirname(tapPackage), require(tapPackage).bin.tap);
const tap = spawnSync(process.execPath, [tapBin, ...args, '--reporter=tap'], {
  cwd: root,
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, SHMSYNC_TEST: '1', SHMSYNC_OWNER_TABLE: ownerTable },
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
fs.rmSync(path.join('/dev/shm', `shmsync-${ownerTable}`), { force: true });
const leaked = [...listShm()].filter((n) => !before.has(n));
if (leaked.length > 0) {
  console.log(`not ok - the suite left ${leaked.length} shmsync segment(s) in /dev/shm: ${leaked.slice(0, 10).join(', ')}`);
  // Remove only what no live process maps: a segment that appeared meanwhile may belong to
  // another program running on the machine (its users keep it mapped).
  const mapped = mappedSegments();
  const inodes = mappedInodes(); // a creator maps its segment under a temporary name
  for (const n of leaked) {
    if (!mapped.has(n) && !isMappedByInode('/dev/shm', n, inodes)) fs.rmSync(path.join('/dev/shm', n), { force: true });
  }
  failed += 1;
} else {
  console.log('ok - the suite left no shmsync segment in /dev/shm');
  passed += 1;
}
if (tap.status !== 0 && failed === 0) failed += 1;
fs.writeFileSync(path.join(root, '.tap-results.json'), JSON.stringify({ passed, failed }));
console.log(`tap: ${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
