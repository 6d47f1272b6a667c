'use strict';
// Is another process blocked waiting for a lock yet? Hand-off benchmarks release only once the
// waiter sleeps in the kernel, so they measure a wake-up, not a waiter that was still arriving.
const fs = require('node:fs');

/** Scheduler state letter of a thread ('R' running, 'S' sleeping...), or null if it is gone. */
function threadState(pid, tid = pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

/** True when /proc/locks lists a blocked flock request (`->`) of process `pid`. */
function flockBlocked(pid) {
  const text = fs.readFileSync('/proc/locks', 'utf8');
  const needle = ` ${pid} `;
  for (const line of text.split('\n')) {
    if (line.includes('->') && line.includes('FLOCK') && line.includes(needle)) return true;
  }
  return false;
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

function spinNs(ns) {
  const end = process.hrtime.bigint() + BigInt(ns);
  while (process.hrtime.bigint() < end);
}

/**
 * Resolves once `predicate()` holds, polling between event-loop turns (the IPC message that
 * told the waiter to wait must get out), then spins `settleNs` more so a waiter that has just
 * registered is asleep. Rejects after `timeoutMs`.
 */
async function untilBlocked(predicate, { settleNs = 50_000, timeoutMs = 10_000, what = 'waiter' } = {}) {
  const giveUp = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > giveUp) throw new Error(`${what} never blocked within ${timeoutMs} ms`);
    await tick();
  }
  spinNs(settleNs);
}

module.exports = { threadState, flockBlocked, untilBlocked, spinNs };
