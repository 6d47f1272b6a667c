'use strict';
// The actors of groups actor-throughput and actor-latency (wired by lib/actor-pipeline.js).
// Each runs in a child process or worker thread started by the Relay; the main process drives
// the runs through ShmQueues outside the relay (the relay's own queues carry only the
// benchmark's messages):
//
//   ctl    main → one Source: { n } send n messages; { chain: n } send n one at a time, each
//          after the sink acked the previous; { stop: true } leave loop() (the relay then shuts
//          down: poison pills, every actor exits).
//   expect main → Sink, before every run: { until, collect } the running total at which this
//          run is complete; collect = record that many send→recv latencies.
//   done   Sink → main: { count } or { count, latencies } when the total is reached.
//   ack    Sink → Source, latency runs only: one per message (not timed).
//
// The message is the small object of lib/payloads.js (5 fields, ~60 B as JSON), plus a
// process.hrtime stamp `t` in latency runs (CLOCK_MONOTONIC: one clock machine-wide).
const { shmsync } = require('../lib/shmsync');
const { smallObject } = require('../lib/payloads');

const { Actor, ShmQueue } = shmsync();
const now = () => Number(process.hrtime.bigint());
const open = (name, codec) => new ShmQueue(name, { create: 'open', codec });

class Source extends Actor {
  #ctl;
  #ack;

  constructor({ ctl, ack }) {
    super();
    this.#ctl = open(ctl, 'json');
    this.#ack = ack === undefined ? null : open(ack, 'json');
  }

  async loop() {
    for (;;) {
      const cmd = await this.#ctl.get();
      if (cmd.stop) return;
      if (cmd.chain !== undefined) {
        for (let i = 0; i < cmd.chain; i++) {
          await this.send({ ...smallObject(i), t: now() });
          await this.#ack.get();
        }
      } else {
        const msg = smallObject(1);
        for (let i = 0; i < cmd.n; i++) await this.send(msg);
      }
    }
  }

  shutdown() {
    this.#ctl.close();
    this.#ack?.close();
  }
}

/** A middle stage: every message goes on to one actor of the next group. */
class Forward extends Actor {
  recv(msg) {
    return this.send(msg);
  }
}

class Sink extends Actor {
  #expect;
  #done;
  #ack;
  #count = 0;
  #until = -1; // -1: this run's target not read yet
  #latencies = null;
  #lat = 0;

  constructor({ expect, done, ack }) {
    super();
    this.#expect = open(expect, 'json');
    this.#done = open(done, 'structured');
    this.#ack = ack === undefined ? null : open(ack, 'json');
  }

  recv(msg) {
    const t = now();
    if (this.#until < 0) this.#next();
    if (this.#latencies !== null) {
      this.#latencies[this.#lat++] = t - msg.t;
      this.#ack.tryPut(1);
    }
    if (++this.#count === this.#until) {
      const out = { count: this.#count };
      if (this.#latencies !== null) out.latencies = this.#latencies.subarray(0, this.#lat);
      this.#latencies = null;
      this.#until = -1;
      if (!this.#done.tryPut(out)) throw new Error('the done queue is full');
    }
  }

  /** The target of the run that just started (main puts it before it starts the sources). */
  #next() {
    const e = this.#expect.tryGet();
    if (e === undefined) throw new Error('a message arrived before its run was announced');
    this.#until = e.until;
    if (e.collect) {
      this.#latencies = new Float64Array(e.collect);
      this.#lat = 0;
    }
  }

  shutdown() {
    this.#expect.close();
    this.#done.close();
    this.#ack?.close();
  }
}

module.exports = { Source, Forward, Sink };
