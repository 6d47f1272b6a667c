#!/usr/bin/env node
// Builds native/test with plain CMake and runs it with ctest: once plain, once under
// ASan+UBSan, once under TSan. Prints one `native: N passed, N failed` line per variant and
// exits non-zero on any failure. SHMSYNC_NATIVE_VARIANTS=plain,address limits the variants.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { startRun } = require('./shm-ledger');

const root = path.join(__dirname, '..');
const variants = (process.env.SHMSYNC_NATIVE_VARIANTS || 'plain,address,thread').split(',');
let failedTotal = 0;
let passedTotal = 0;

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', ...opts });
  return r;
}

// The leftover check judges only what these test processes created (their ledger, see
// scripts/shm-ledger.js), never other programs' segments, including concurrent test runs.
const ledgerRun = startRun('native');

for (const variant of variants) {
  const dir = path.join(root, `build-native-test-${variant}`);
  const cfg = ['-S', root, '-B', dir, '-DCMAKE_BUILD_TYPE=RelWithDebInfo'];
  if (variant !== 'plain') cfg.push(`-DSHMSYNC_SANITIZE=${variant}`);
  let r = run('cmake', cfg);
  if (r.status === 0) r = run('cmake', ['--build', dir, '-j', '2']);
  if (r.status !== 0) {
    process.stdout.write(r.stdout + r.stderr);
    console.log(`native ${variant}: build failed`);
    failedTotal += 1;
    continue;
  }
  const env = {
    ...process.env,
    ...ledgerRun.env,
    ASAN_OPTIONS: 'detect_leaks=1',
    UBSAN_OPTIONS: 'print_stacktrace=1',
    TSAN_OPTIONS: 'halt_on_error=1 second_deadlock_stack=1',
  };
  r = run('ctest', ['--output-on-failure', '--test-dir', dir], { env });
  process.stdout.write(r.stdout);
  if (r.stderr) process.stderr.write(r.stderr);
  const m = /(\d+)% tests passed, (\d+) tests failed out of (\d+)/.exec(r.stdout);
  const total = m ? Number(m[3]) : 0;
  const failed = m ? Number(m[2]) : 1;
  passedTotal += total - failed;
  failedTotal += failed + (r.status !== 0 && failed === 0 ? 1 : 0);
  console.log(`native ${variant}: ${total - failed} passed, ${failed} failed`);
}
// Every C++ test unlinks what it creates; a leftover is a failure (and is removed).
const leaked = ledgerRun.leftovers();
ledgerRun.finish();
if (leaked.length > 0) {
  console.log(`native: ${leaked.length} segment(s) left in /dev/shm: ${leaked.join(', ')}`);
  for (const n of leaked) fs.rmSync(path.join('/dev/shm', n), { force: true });
  failedTotal += 1;
}
fs.writeFileSync(path.join(root, '.native-results.json'), JSON.stringify({ passed: passedTotal, failed: failedTotal }));
process.exitCode = failedTotal === 0 ? 0 : 1;
