// The pcall section's module target (pcall.js): a Lockable counter shared by every child, and the
// function each child runs. A module target is loaded in the child before the call's arguments
// are rebuilt, so Tally.register() below has run by the time a Tally reference arrives.
'use strict';
const { Lockable, SharedValue, reviveHandle } = require('../../dist');

/** A counter whose increments are serialised by the instance's cross-process lock. */
class Tally extends Lockable {
  constructor({ lock, count } = {}) {
    super(lock === undefined ? {} : { lock });
    this.count = count ?? new SharedValue({ type: 'int32' });
  }

  /** The reference form: the lock's, plus a reference to the shared count. */
  toJSON() {
    return { ...super.toJSON(), count: this.count.toJSON() };
  }

  /** Closes this process's handles (pcall closes argument handles after each call). */
  close() {
    this.count.close();
    this[Symbol.dispose]();
  }

  /** Removes both names (the creator does this once everyone is done). */
  unlink() {
    this.count.unlink();
    this.lock.unlink();
  }
}

// No decorator syntax in plain JavaScript: Lockable.locked(fn) returns the locked method.
// value is an atomic load and the assignment an atomic store, but the read-modify-write between
// them is not atomic: the lock is what makes concurrent increments exact.
Tally.prototype.increment = Lockable.locked(function increment() {
  const next = this.count.value + 1;
  this.count.value = next;
  return next;
});

// References to Tallies (pcall arguments) revive as Tallies, with their shared count.
Tally.register({ revive: (ref) => new Tally({ lock: ref, count: reviveHandle(ref.count) }) });

/** pcall target: increments `tally` `times` times; reports who did it and the last value seen. */
function work(tally, times) {
  let last = 0;
  for (let i = 0; i < times; i++) last = tally.increment();
  return { pid: process.pid, isTally: tally instanceof Tally, times, last };
}

module.exports = { Tally, work };
