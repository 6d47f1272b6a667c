'use strict';
// A SharedArrayBuffer mutex with Atomics (Drepper's three-state futex mutex, "Futexes Are
// Tricky", mutex2): the best a single process with threads can do. State 0 = free, 1 = locked,
// 2 = locked with waiters. Not cross-process: a SharedArrayBuffer cannot be shared with another
// process, which is the gap shmsync fills.

const kFree = 0;
const kLocked = 1;
const kContended = 2;
const kSpins = 100;

class AtomicsMutex {
  constructor(sab = new SharedArrayBuffer(4), index = 0) {
    this.i32 = new Int32Array(sab);
    this.index = index;
  }

  lock() {
    const { i32, index } = this;
    let c = Atomics.compareExchange(i32, index, kFree, kLocked);
    if (c === kFree) return;
    for (let spin = 0; spin < kSpins && c !== kFree; spin++) {
      c = Atomics.compareExchange(i32, index, kFree, kLocked);
      if (c === kFree) return;
    }
    if (c !== kContended) c = Atomics.exchange(i32, index, kContended);
    while (c !== kFree) {
      Atomics.wait(i32, index, kContended);
      c = Atomics.exchange(i32, index, kContended);
    }
  }

  tryLock() {
    return Atomics.compareExchange(this.i32, this.index, kFree, kLocked) === kFree;
  }

  unlock() {
    const { i32, index } = this;
    if (Atomics.sub(i32, index, 1) !== kLocked) {
      Atomics.store(i32, index, kFree);
      Atomics.notify(i32, index, 1);
    }
  }
}

module.exports = { AtomicsMutex };
