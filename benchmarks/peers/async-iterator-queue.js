'use strict';
// A push-based async-iterator queue, the shape of it-pushable / p-queue-style channels and of
// the "async generator as a channel" idiom: the producer push()es, the consumer `for await`s
// (or calls next()). One promise per item taken; a consumer waiting on an empty queue gets the
// next push directly. end() finishes the iteration after the items already queued.

class AsyncIteratorQueue {
  constructor() {
    this.items = [];
    this.head = 0;
    this.waiting = null; // resolve of a consumer's pending next()
    this.ended = false;
  }

  push(value) {
    if (this.waiting !== null) {
      const resolve = this.waiting;
      this.waiting = null;
      resolve({ value, done: false });
      return;
    }
    this.items.push(value);
  }

  end() {
    this.ended = true;
    if (this.waiting !== null) {
      const resolve = this.waiting;
      this.waiting = null;
      resolve({ value: undefined, done: true });
    }
  }

  next() {
    if (this.head < this.items.length) {
      const value = this.items[this.head];
      this.items[this.head++] = undefined;
      if (this.head === this.items.length) {
        this.items = [];
        this.head = 0;
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  [Symbol.asyncIterator]() {
    return this;
  }
}

module.exports = { AsyncIteratorQueue };
