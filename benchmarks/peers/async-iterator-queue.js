'use strict';
// Peer for the channel-throughput group: the async-iterator queue people write by hand (a
// buffer plus one pending resolver; `for await` on the consumer side), as in it-pushable /
// event-iterator style libraries.
class AsyncIteratorQueue {
  constructor() {
    this.items = [];
    this.head = 0;
    this.waiter = null;
    this.ended = false;
  }
  push(item) {
    if (this.waiter !== null) {
      const w = this.waiter;
      this.waiter = null;
      w({ value: item, done: false });
    } else this.items.push(item);
  }
  end() {
    this.ended = true;
    if (this.waiter !== null) this.waiter({ value: undefined, done: true });
  }
  next() {
    if (this.head < this.items.length) {
      const value = this.items[this.head++];
      if (this.head === this.items.length) {
        this.items = [];
        this.head = 0;
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.waiter = resolve));
  }
  [Symbol.asyncIterator]() {
    return this;
  }
}

module.exports = { AsyncIteratorQueue };
