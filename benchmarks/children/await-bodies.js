'use strict';
// The await-after-lock competitors, each run in a process of its own (lib/isolated.js), under
// the Node binary the row names. Both processes load shmsync and keep one Mutex open; the
// "after" process has also run one `withLock` scope to its end before it is measured. On Node
// 20 and 22 the first AsyncLocalStorage scope turns on V8 promise hooks for the whole process,
// so every later `await` pays for them, lock or no lock: that is what the row shows.
const { asyncOp } = require('../lib/competitor');
const { shmsync } = require('../lib/shmsync');
const { benchName, unlinkName } = require('../lib/shm-names');

/** An async function and its await: the operation measured (a call and one await of its promise). */
async function touch(box) {
  return ++box.n;
}

/** A Mutex used once with the blocking API (no lock scope); teardown closes and unlinks it. */
function openMutex() {
  const { Mutex } = shmsync();
  const name = benchName('await');
  let m;
  try {
    m = new Mutex(name);
    m.acquireSync();
    m.release();
  } catch (err) {
    if (m) m.close();
    unlinkName(name);
    throw err;
  }
  return {
    m,
    teardown() {
      m.close();
      unlinkName(name);
    },
  };
}

/**
 * Median ns per op of `loop(n)` over five timed runs after two warm-up runs: the same compiled
 * loop the samples use later, timed here before the lock scope.
 */
async function timeLoop(loop, n) {
  const per = [];
  for (let k = 0; k < 7; k++) {
    const t0 = process.hrtime.bigint();
    await loop(n);
    if (k >= 2) per.push(Number(process.hrtime.bigint() - t0) / n);
  }
  return per.sort((a, b) => a - b)[2];
}

module.exports = {
  /** `await` in a process that loaded shmsync and used a Mutex, but never opened a lock scope. */
  awaitBefore() {
    const { teardown } = openMutex();
    const box = { n: 0 };
    return { run: asyncOp(() => touch(box)), teardown };
  },
  /**
   * `await` after one `withLock` scope ran and ended. The same loop is timed once before the
   * scope, in this same process, and reported with every sample (`extra.sameProcessBeforeNs`).
   */
  async awaitAfter(ctx) {
    const { m, teardown } = openMutex();
    try {
      const box = { n: 0 };
      const loop = asyncOp(() => touch(box));
      const sameProcessBeforeNs = await timeLoop(loop, ctx.quick ? 50_000 : 200_000);
      await m.withLock(async () => {
        await null;
      });
      return {
        async run(n) {
          await loop(n);
          return { extra: { sameProcessBeforeNs } };
        },
        teardown,
      };
    } catch (err) {
      teardown();
      throw err;
    }
  },
};
