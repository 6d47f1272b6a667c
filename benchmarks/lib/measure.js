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
 * Runs `run(n)` once. Returns { n, elapsedNs, latencies?, ops?, extra? }. A competitor may report
 * its own elapsed time ({ elapsedNs }, e.g. measured in a child), per-op latencies
 * ({ latencies }), the number of operations it actually did when that is not n ({ ops }: fixed-
 * time runs), and extra per-sample figures ({ extra: { key: number } }, medians are reported).
 */
async function sample(run, n, timeoutMs) {
  const t0 = process.hrtime.bigint();
  let out = run(n);
  if (out && typeof out.then === 'function') out = await withTimeout(out, timeoutMs, `run(${n})`);
  const wallNs = Number(process.hrtime.bigint() - t0);
  const result = { n, elapsedNs: wallNs };
  if (out && typeof out === 'object') {
    if (typeof out.elapsedNs === 'number') result.elapsedNs = out.elapsedNs;
    if (typeof out.ops === 'number') result.ops = out.ops;
    if (out.extra && typeof out.extra === 'object') result.extra = out.extra;
    if (out.latencies) {
      if (out.latencies.length !== n) throw new Error(`run(${n}) returned ${out.latencies.length} latencies`);
      result.latencies = out.latencies;
    }
  }
  return result;
}

/**
 * Grows n from minN until a sample takes at least a quarter of the target *and* its time grew
 * roughly in proportion to n (so a fixed per-sample cost, such as a round trip to a child
 * process that starts the run, no longer dominates), or a sample takes the whole target. Then
 * scales n to the target, correcting for the fixed cost estimated from the last two samples.
 * The growing samples double as warm-up (JIT, connection set-up, pools); the very first one is
 * discarded.
 */
async function calibrate(run, { targetNs, maxN = 1e9, minN = 1, timeoutMs }) {
  let n = minN;
  let prev = null;
  await sample(run, n, timeoutMs); // cold: first calls, lazy loading in a child; not a measure
  for (;;) {
    const { elapsedNs } = await sample(run, n, timeoutMs);
    if (process.env.BENCH_DEBUG) console.error(`  calibrate n=${n} ${(elapsedNs / 1e6).toFixed(2)} ms`);
    const e = Math.max(elapsedNs, 1);
    const g = prev === null ? 0 : n / prev.n;
    const proportional = prev !== null && e >= prev.e * (1 + 0.5 * (g - 1));
    if (n >= maxN || e >= targetNs || (e >= targetNs / 4 && proportional)) {
      let target = (n * targetNs) / e;
      if (prev !== null && e > prev.e) {
        const perOp = (e - prev.e) / (n - prev.n);
        const fixed = e - perOp * n;
        if (fixed > 0 && fixed < targetNs) target = Math.max(target, (targetNs - fixed) / perOp);
      }
      return Math.max(minN, Math.min(maxN, Math.ceil(Math.min(target, n * 10))));
    }
    const grow = e < targetNs / 4 ? Math.min(10, Math.max(2, targetNs / 4 / e)) : 2;
    prev = { n, e };
    n = Math.min(maxN, Math.ceil(n * grow));
  }
}

module.exports = { sample, calibrate, withTimeout, SampleTimeout };
