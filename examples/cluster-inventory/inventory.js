// Inventory: stock shared by every process of a cluster. A Lockable subclass: its methods run
// holding one cross-process lock, and its state lives in shared memory (SharedArray for the
// per-item numbers, SharedValue for the counters) - the seed's advice: "those state attributes
// must be also shared (using things like multiprocessing.Values)".
//
// Crash safety: an update writes its target values to a small journal before applying them, so
// if a holder is killed mid-update, the next holder (told `ownerDied`) re-applies the journal.
'use strict';
const { Lockable, SharedArray, SharedValue, reviveHandle } = require('../../dist');

const kCounters = ['reservations', 'rejections', 'recoveries'];

class Inventory extends Lockable {
  /**
   * @param {object} parts  lock (reference or Mutex, or undefined for a new one), names, and the
   *                        shared handles: initial, stock, sold, journal, counters.
   */
  constructor({ lock, names, initial, stock, sold, journal, counters }) {
    super(lock === undefined ? {} : { lock });
    Object.assign(this, { names, initial, stock, sold, journal, counters });
  }

  /** Creates the shared state for `items` ({ name: quantity }) - in the primary, once. */
  static create(items) {
    const names = Object.keys(items);
    const quantities = Object.values(items);
    return new Inventory({
      names,
      initial: new SharedArray({ type: 'int32', values: quantities }),
      stock: new SharedArray({ type: 'int32', values: quantities }),
      sold: new SharedArray({ type: 'int32', length: names.length }),
      journal: new SharedArray({ type: 'int32', length: 4 }), // [pending, item, stock, sold]
      counters: Object.fromEntries(kCounters.map((k) => [k, new SharedValue({ type: 'int32' })])),
    });
  }

  /** Reopens an inventory from its JSON form - in a worker. */
  static from(ref) {
    const open = (r) => reviveHandle(r);
    return new Inventory({
      lock: ref,
      names: ref.names,
      initial: open(ref.initial),
      stock: open(ref.stock),
      sold: open(ref.sold),
      journal: open(ref.journal),
      counters: Object.fromEntries(kCounters.map((k) => [k, open(ref.counters[k])])),
    });
  }

  /** Everything a worker needs: the lock reference plus references to the shared handles. */
  toJSON() {
    const { names, initial, stock, sold, journal, counters } = this;
    return { ...super.toJSON(), names, initial, stock, sold, journal, counters };
  }

  /** Reserves `qty` of `item` if enough is left. Never oversells: check and update under the lock. */
  async reserve(item, qty) {
    this.recover();
    const i = this.names.indexOf(item);
    if (i < 0) throw new RangeError(`unknown item ${item}`);
    const stock = this.stock.array;
    const sold = this.sold.array;
    if (stock[i] < qty) {
      this.counters.rejections.add(1);
      return { ok: false, remaining: stock[i] };
    }
    const j = this.journal.array;
    j[1] = i;
    j[2] = stock[i] - qty;
    j[3] = sold[i] + qty;
    Atomics.store(j, 0, 1); // journal complete: from here a crash is repaired by recover()
    stock[i] = j[2];
    sold[i] = j[3];
    Atomics.store(j, 0, 0);
    this.counters.reservations.add(1);
    return { ok: true, remaining: stock[i] };
  }

  /** A consistent snapshot (under the lock, so no update is seen half done). */
  async stats() {
    this.recover();
    const items = {};
    const totals = { initial: 0, stock: 0, sold: 0 };
    this.names.forEach((name, i) => {
      const row = { initial: this.initial.array[i], stock: this.stock.array[i], sold: this.sold.array[i] };
      items[name] = row;
      for (const k of Object.keys(totals)) totals[k] += row[k];
    });
    const counters = Object.fromEntries(kCounters.map((k) => [k, this.counters[k].value]));
    return { items, totals, ...counters, ownerDeaths: this.lock.info().ownerDeaths };
  }

  /** Debug only: takes the lock, calls `report()`, then never returns (to be killed holding it). */
  async debugHold(report) {
    report();
    await new Promise(() => {});
  }

  /** Under the lock: if the previous holder died, finish its journaled update. */
  recover() {
    if (!this.lock.ownerDied) return;
    this.counters.recoveries.add(1);
    const j = this.journal.array;
    if (Atomics.load(j, 0) === 1) {
      this.stock.array[j[1]] = j[2];
      this.sold.array[j[1]] = j[3];
      Atomics.store(j, 0, 0);
    }
  }

  /** Logical names of every segment (for tools and tests). */
  segments() {
    const handles = [this.initial, this.stock, this.sold, this.journal, ...Object.values(this.counters)];
    return [this.lock.name, ...handles.map((h) => h.name)];
  }

  close() {
    for (const h of [this.initial, this.stock, this.sold, this.journal, ...Object.values(this.counters)]) h.close();
    this[Symbol.dispose]();
  }

  unlink() {
    for (const h of [this.initial, this.stock, this.sold, this.journal, ...Object.values(this.counters)]) h.unlink();
    this.lock.unlink();
  }
}

// JavaScript has no decorator syntax: apply `@Lockable.locked` by a plain call. The methods are
// `async`, so they wait for the lock with the Promise API and never block a worker's event loop.
for (const name of ['reserve', 'stats', 'debugHold']) {
  Inventory.prototype[name] = Lockable.locked(Inventory.prototype[name]);
}

module.exports = { Inventory };
