'use strict';
// One sample = one call of run(n); calibration picks n so a sample lasts about the target time.

class SampleTimeout extends Error {}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new SampleTimeout(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Runs `run(n)` once. Returns { n, elapsedNs, latencies? }. A competitor may report its own
 * elapsed time ({ elapsedNs }, e.g. measured in a child) or per-op latencies ({ latencies }).
 */
async function sample(run, n, timeoutMs) {
  const t0 = process.hrtime.bigint();
  let out = run(n);
  if (out && typeof out.then === 'function') out = await withTimeout(out, timeoutMs, `run(${n})`);
  const wallNs = Number(process.hrtime.bigint() - t0);
  const result = { n, elapsedNs: wallNs };
  if (out && typeof out === 'object') {
    if (typeof out.elapsedNs === 'number') result.elapsedNs = out.elapsedNs;
    if (out.latencies) {
      if (out.latencies.length !== n) throw new Error(`run(${n}) returned ${out.latencies.length} latencies`);
      result.latencies = out.latencies;
    }
  }
  return result;
}

/**
 * Grows n from 1 until a sample takes at least a quarter of the target, then scales it to the
 * target. The growing samples double as warm-up (JIT, connection set-up, pools).
 */
async function calibrate(run, { targetNs, maxN = 1e9, minN = 1, timeoutMs }) {
  let n = minN;
  for (;;) {
    const { elapsedNs } = await sample(run, n, timeoutMs);
    if (elapsedNs >= targetNs / 4 || n >= maxN) {
      return Math.max(minN, Math.min(maxN, Math.ceil((n * targetNs) / Math.max(elapsedNs, 1))));
    }
    const grow = elapsedNs <= 0 ? 10 : Math.min(10, Math.max(2, targetNs / 4 / elapsedNs));
    n = Math.min(maxN, Math.ceil(n * grow));
  }
}

module.exports = { sample, calibrate, withTimeout, SampleTimeout };
