'use strict';
// child_process IPC peer (forked with serialization 'json' or 'advanced' by the parent).
// Echoes every data message (ping-pong); 'produce' sends n messages as fast as the channel
// takes them, pausing when process.send() reports a full write queue.
const { serve } = require('../lib/serve');
const { buffer64, smallObject } = require('../lib/payloads');
const { sendAll } = require('../lib/ipc-send');

function message(kind) {
  return kind === 'buffer' ? buffer64() : smallObject(1);
}

// As fast as the channel takes them, waiting when its write queue is full.
const produce = ({ n, payload }) => sendAll(message(payload), n);

serve({
  info: { serialization: process.env.BENCH_SERIALIZATION ?? 'unknown' },
  commands: { produce },
  onData: (msg) => process.send(msg),
});
