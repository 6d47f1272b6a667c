'use strict';
// worker_threads peer: echoes data messages; 'produce' posts n messages (MessagePort has no
// backpressure, so the queue grows if the consumer is slower; the consumer's rate is measured).
const { parentPort } = require('node:worker_threads');
const { serve } = require('../lib/serve');
const { buffer64, smallObject } = require('../lib/payloads');

serve({
  commands: {
    produce({ n, payload }) {
      const msg = payload === 'buffer' ? buffer64() : smallObject(1);
      for (let i = 0; i < n; i++) parentPort.postMessage(msg);
      return { sent: n };
    },
  },
  onData: (msg) => parentPort.postMessage(msg),
});
