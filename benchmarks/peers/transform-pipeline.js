'use strict';
// The hand-written pipelines the async-pool group compares the Pool with, doing the same work:
// every item goes through a chain of `k` transformers (`transform`, x => x + 1).
//
// - promisePipeline: in process, what a Node programmer writes without a library - every item
//   through the chain with `await` per stage, all items at once under Promise.all.
// - piscinaPipeline: the same chain on piscina workers, one piscina task per item per stage
//   (the "small task" the issue compares with), stages in order per item, all items in flight.

/** The transformer every pipeline runs (shipped by source to the shmsync pool's workers). */
const transform = (x) => x + 1;

/** One transformer as an async stage (what a hand-written pipeline awaits). */
async function stage(x) {
  return transform(x);
}

/** Runs `items` through k stages; resolves with the results (checked by the caller). */
async function promisePipeline(items, k) {
  return Promise.all(
    items.map(async (x) => {
      for (let s = 0; s < k; s++) x = await stage(x);
      return x;
    }),
  );
}

/** `items` through k stages, each stage a piscina task (`pool.run(x)`, worker: x + 1). */
async function piscinaPipeline(pool, items, k) {
  return Promise.all(
    items.map(async (x) => {
      for (let s = 0; s < k; s++) x = await pool.run(x);
      return x;
    }),
  );
}

/** Items 0..n-1. */
function range(n) {
  const items = new Array(n);
  for (let i = 0; i < n; i++) items[i] = i;
  return items;
}

/** Throws unless `results` is 0..n-1 each plus k (in any order). */
function checkResults(results, n, k) {
  if (results.length !== n) throw new Error(`pipeline returned ${results.length} items, expected ${n}`);
  let sum = 0;
  for (const r of results) sum += r;
  const expected = (n * (n - 1)) / 2 + n * k;
  if (sum !== expected) throw new Error(`pipeline results sum to ${sum}, expected ${expected}`);
}

module.exports = { transform, promisePipeline, piscinaPipeline, checkResults, range };
