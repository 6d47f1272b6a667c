'use strict';
// Issue 11, channels in process: write + read throughput per item, in batches of 256 (the writer
// fills, the reader drains), against a plain array queue and a hand-written async-iterator queue.
const { defineGroup } = require('../lib/group');
const { shmsync } = require('../lib/shmsync');
const { AsyncIteratorQueue } = require('../peers/async-iterator-queue');

const kBatch = 256;

/** run(n): n items through `write` then `drain` (drain returns how many it took). */
function batched(write, drain) {
  return async (n) => {
    let done = 0;
    while (done < n) {
      const k = Math.min(kBatch, n - done);
      for (let i = 0; i < k; i++) await write(i);
      let got = 0;
      while (got < k) got += await drain();
      done += k;
    }
  };
}

function channel(ctype, opts = {}) {
  return () => {
    const s = shmsync();
    const [w, r] = s.mkchannel({ ctype: s[ctype], ...opts });
    return {
      run: batched(
        (i) => w.write(i),
        async () => (await r.read(0, { block: false })).length,
      ),
      teardown() {
        w.close();
        r.close();
      },
    };
  };
}

module.exports = defineGroup({
  name: 'channel-throughput',
  title: 'Channel write + read, in process, batches of 256',
  metric: 'time',
  unit: 'item',
  notes:
    'Each item: one awaited write(), then the reader drains the batch with one read(0, { block: false }) (SerialChannel: fastest, never waits; Channel: AsyncQueue underneath). Peers: Array push/shift; an async-iterator queue (push, then await next() per item).',
  competitors: [
    { name: 'SerialChannel await write() + read(0) per batch', side: 'shmsync', setup: channel('SerialChannel') },
    { name: 'Channel await write() + read(0) per batch', side: 'shmsync', setup: channel('Channel') },
    {
      name: 'SerialChannel tryWrite() + read(0) per batch',
      side: 'shmsync',
      setup() {
        const s = shmsync();
        const [w, r] = s.mkchannel({ ctype: s.SerialChannel });
        return {
          async run(n) {
            let done = 0;
            while (done < n) {
              const k = Math.min(kBatch, n - done);
              for (let i = 0; i < k; i++) w.tryWrite(i);
              done += (await r.read(0, { block: false })).length;
            }
          },
          teardown() {
            w.close();
          },
        };
      },
    },
    {
      name: 'plain Array push / shift',
      side: 'peer',
      vs: ['SerialChannel await write() + read(0) per batch', 'SerialChannel tryWrite() + read(0) per batch'],
      setup() {
        const q = [];
        return {
          // Synchronous: the fastest a single-thread FIFO can be (no promise per item).
          run(n) {
            let done = 0;
            while (done < n) {
              const k = Math.min(kBatch, n - done);
              for (let i = 0; i < k; i++) q.push(i);
              while (q.length > 0) {
                q.shift();
                done++;
              }
            }
          },
        };
      },
    },
    {
      name: 'async-iterator queue, push + await next()',
      side: 'peer',
      vs: ['SerialChannel await write() + read(0) per batch', 'Channel await write() + read(0) per batch'],
      setup() {
        const q = new AsyncIteratorQueue();
        return {
          run: batched(
            (i) => void q.push(i),
            async () => {
              await q.next();
              return 1;
            },
          ),
        };
      },
    },
  ],
});
