'use strict';
// The simplest in-process FIFO a Node program writes by hand: an array with a head index
// (push to the tail, take batches from the head, compact now and then). No waiting, no
// closing: the floor any channel is compared with (channel group).

class ArrayQueue {
  constructor() {
    this.items = [];
    this.head = 0;
  }

  push(item) {
    this.items.push(item);
  }

  /** Up to `n` items from the head (fewer when fewer are there). */
  take(n) {
    const end = Math.min(this.items.length, this.head + n);
    const out = this.items.slice(this.head, end);
    this.head = end;
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return out;
  }

  get size() {
    return this.items.length - this.head;
  }
}

module.exports = { ArrayQueue };
