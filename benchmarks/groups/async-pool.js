'use strict';
// Issue 11: the Pool (async seed `async.pool`) moving 100 000 items through chains of 1, 5 and
// 10 transformers (x => x + 1): size 0 (everything on the reading thread) against a
// hand-written Promise.all pipeline, and 2 worker threads against piscina running one task per
// item per stage. One op = one item through the whole chain.
const path = require('node:path');
const { defineGroup } = require('../lib/group');
const { requirePeer } = require('../lib/competitor');
const { childrenDir } = require('../lib/child');
const { shmsync } = require('../lib/shmsync');
const { transform, promisePipeline, piscinaPipeline, checkResults, range } = require('../peers/transform-pipeline');

const kItems = 100_000;
/** piscina moves one task per item per stage: 10 000 items per sample keep a sample near a second. */
const kPiscinaItems = 10_000;
const kChunk = 1000;
const kChains = [1, 5, 10];
const kTaskFile = path.join(childrenDir, 'transform-task.js');

const poolName = (size, k) =>
  size === 0
    ? `Pool size 0, chain of ${k}, read() all`
    : `ThreadPool size ${size} (worker threads), chain of ${k}, maxChunksize ${kChunk}, read() all`;
const promiseName = (k) => `hand-written Promise.all pipeline, chain of ${k}`;
const loopName = (k) => `plain synchronous loop (no promise, the floor), chain of ${k}`;
const piscinaName = (k) => `piscina 2 threads, one task per item per stage, chain of ${k}`;

/** For `available`: the pool API (issue 11, branch pool) is in this build. */
function hasPool() {
  const api = shmsync();
  return typeof api.ThreadPool === 'function' && typeof api.IteratorTask === 'function'
    ? true
    : 'ThreadPool/IteratorTask are not in this build (issue 11: the pool layer)';
}

/**
 * A pool (workers started once, before timing); each sample builds the chain - an IteratorTask
 * over the items then k-1 ChannelTasks, each applying `transform` - reads everything from the
 * last reader, checks the sum, and closes the readers (their tasks leave the pool).
 */
function shmPool(size, k) {
  return async () => {
    const { ThreadPool, IteratorTask, ChannelTask } = shmsync();
    const pool = new ThreadPool(size);
    const options = size === 0 ? {} : { maxChunksize: kChunk };
    const items = range(kItems);
    const runChain = async (input) => {
      const readers = [pool.addTask(new IteratorTask(input, 'stage0', transform, options))];
      for (let s = 1; s < k; s++)
        readers.push(pool.addTask(new ChannelTask(readers[s - 1], `stage${s}`, transform, options)));
      try {
        const out = await readers[k - 1].read();
        checkResults(out, input.length, k);
      } finally {
        for (const r of readers.reverse()) r.close();
      }
    };
    try {
      if (size > 0) await runChain(range(2 * kChunk)); // start and warm the workers
      return {
        fixedN: kItems,
        maxSamples: 5,
        run: (n) => runChain(n === kItems ? items : range(n)),
        teardown: () => pool.close(),
      };
    } catch (err) {
      await pool.close();
      throw err;
    }
  };
}

function promiseRow(k) {
  return async () => {
    const items = range(kItems);
    return {
      fixedN: kItems,
      maxSamples: 5,
      run: async (n) => checkResults(await promisePipeline(n === kItems ? items : range(n), k), n, k),
    };
  };
}

function loopRow(k) {
  return async () => {
    const items = range(kItems);
    return {
      fixedN: kItems,
      maxSamples: 5,
      run: (n) => {
        const input = n === kItems ? items : range(n);
        const out = new Array(input.length);
        for (let i = 0; i < input.length; i++) {
          let x = input[i];
          for (let s = 0; s < k; s++) x = transform(x);
          out[i] = x;
        }
        checkResults(out, n, k);
      },
    };
  };
}

function piscinaRow(k) {
  return async () => {
    const { Piscina } = requirePeer('piscina');
    const pool = new Piscina({ filename: kTaskFile, minThreads: 2, maxThreads: 2, idleTimeout: 60_000 });
    await Promise.all([pool.run(0), pool.run(1)]);
    const items = range(kPiscinaItems);
    return {
      fixedN: kPiscinaItems,
      maxSamples: 5,
      run: async (n) => checkResults(await piscinaPipeline(pool, n === kPiscinaItems ? items : range(n), k), n, k),
      teardown: () => pool.destroy(),
    };
  };
}

module.exports = defineGroup({
  name: 'async-pool',
  title: 'Pool: 100 000 items through chains of 1, 5 and 10 transformers',
  metric: 'time',
  unit: 'item',
  notes:
    `Transformer: x => x + 1. shmsync: IteratorTask over the items, then ChannelTasks, one per further stage; the last reader's read() takes everything (lazy evaluation through the graph); workers get chunks of ${kChunk} items per task (maxChunksize). ` +
    `Pool rows and the Promise.all pipeline move ${kItems} items per sample; piscina moves ${kPiscinaItems} (one piscina task per item per stage, every item in flight), at most 5 samples each. Time per item through the whole chain.`,
  competitors: [
    ...kChains.map((k) => ({ name: poolName(0, k), side: 'shmsync', available: hasPool, setup: shmPool(0, k) })),
    ...kChains.map((k) => ({ name: poolName(2, k), side: 'shmsync', available: hasPool, setup: shmPool(2, k) })),
    ...kChains.map((k) => ({ name: promiseName(k), side: 'peer', vs: poolName(0, k), setup: promiseRow(k) })),
    ...kChains.map((k) => ({ name: loopName(k), side: 'peer', vs: poolName(0, k), setup: loopRow(k) })),
    ...kChains.map((k) => ({ name: piscinaName(k), side: 'peer', vs: poolName(2, k), setup: piscinaRow(k) })),
  ],
});

module.exports.names = { poolName, promiseName, loopName, piscinaName, kChains };
