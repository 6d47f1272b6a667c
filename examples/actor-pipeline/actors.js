// The actors of the pipeline in main.js. Each class runs in its own child process (or worker
// thread with --threads): the Relay loads this module there, picks the export named in the
// ActorRef and constructs it with the ActorRef's `args`. Nothing here runs in the main process.
'use strict';
const { Actor, Control } = require('../../dist');

/** First group: no upstream, so it overrides loop(). It lives as long as its loop. */
class Producer extends Actor {
  constructor(count) {
    super();
    this.count = count;
  }

  async loop() {
    for (let i = 0; i < this.count; i++) {
      // Waits while the queue to the next group holds `maxsize` messages (backpressure).
      await this.send({ producer: this.name, i, x: i });
    }
    this.log('produced %d messages', this.count);
  }
}

/** Middle group "prep": each message reaches exactly one of its actors (load balancing). */
class Square extends Actor {
  recv(item) {
    return this.send({ ...item, y: item.x * item.x, prep: this.name });
  }
}

/** Middle group "post". */
class AddOne extends Actor {
  recv(item) {
    return this.send({ ...item, z: item.y + 1, post: this.name });
  }
}

/** Last group: hands every result to the main process through the handler's queue. */
class Consumer extends Actor {
  constructor(sink) {
    super();
    this.sink = sink; // handler.q, passed as a constructor argument (reopened in this process)
    this.seen = 0;
  }

  async recv(item) {
    this.seen++;
    await this.sink.put(item);
  }

  async shutdown() {
    // The seed's convention: tell the handler that no more results will come.
    await this.sink.put(Control.eol);
    this.log('consumed %d messages', this.seen);
  }
}

module.exports = { Producer, Square, AddOne, Consumer };
