'use strict';
// The lockable-overhead competitors, each run in a process of its own (lib/isolated.js): a
// locked method opens an AsyncLocalStorage scope, which turns on promise hooks for the whole
// process, and the bare and async-mutex rows must not pay for that.
const { op, asyncOp, requirePeer } = require('../lib/competitor');
const { shmsync } = require('../lib/shmsync');
const { benchName, unlinkName } = require('../lib/shm-names');

/**
 * A Lockable subclass with `inc()` / `async incAsync()`, locked in plain JavaScript as
 * docs/lockable.md shows (`Class.prototype.m = Lockable.locked(Class.prototype.m)`).
 */
function lockedCounter() {
  const { Lockable } = shmsync();
  class Counter extends Lockable {
    n = 0;
    inc() {
      return ++this.n;
    }
    async incAsync() {
      return ++this.n;
    }
  }
  Counter.prototype.inc = Lockable.locked(Counter.prototype.inc);
  Counter.prototype.incAsync = Lockable.locked(Counter.prototype.incAsync);
  const name = benchName('lockable');
  let c;
  try {
    c = new Counter({ name });
  } catch (err) {
    unlinkName(name);
    throw err;
  }
  return {
    counter: c,
    teardown() {
      c[Symbol.dispose]();
      unlinkName(name);
    },
  };
}

/** The same class without the decorator. */
class BareCounter {
  n = 0;
  inc() {
    return ++this.n;
  }
  async incAsync() {
    return ++this.n;
  }
}

module.exports = {
  lockedSync() {
    const { counter, teardown } = lockedCounter();
    return { run: op(() => counter.inc()), teardown };
  },
  lockedAsync() {
    const { counter, teardown } = lockedCounter();
    return { run: asyncOp(() => counter.incAsync()), teardown };
  },
  bareSync() {
    const counter = new BareCounter();
    return { run: op(() => counter.inc()) };
  },
  bareAsync() {
    const counter = new BareCounter();
    return { run: asyncOp(() => counter.incAsync()) };
  },
  runExclusive() {
    const { Mutex } = requirePeer('async-mutex');
    const mutex = new Mutex();
    const counter = { n: 0 };
    const body = () => ++counter.n;
    return { run: asyncOp(() => mutex.runExclusive(body)) };
  },
  /** A bare async method in a process where a lock scope already ran (promise hooks on). */
  bareAsyncAfterScope() {
    const { Mutex } = shmsync();
    const name = benchName('als');
    const m = new Mutex(name);
    m.runLocked(() => {}); // what a sync @Lockable.locked call does: opens a lock scope (ALS)
    m.close();
    unlinkName(name);
    const counter = new BareCounter();
    return { run: asyncOp(() => counter.incAsync()) };
  },
};
