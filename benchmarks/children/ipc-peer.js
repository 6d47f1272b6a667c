'use strict';
// child_process IPC peer (forked with serialization 'json' or 'advanced' by the parent).
// Echoes every data message (ping-pong); 'produce' sends n messages as fast as the channel
// takes them, pausing when process.send() reports a full write queue.
const { serve } = require('../lib/serve');
const { buffer64, smallObject } = require('../lib/payloads');

function message(kind) {
  return kind === 'buffer' ? buffer64() : smallObject(1);
}

async function produce({ n, payload }) {
  const msg = message(payload);
  let sent = 0;
  while (sent < n) {
    const ok = process.send(msg);
    sent++;
    if (!ok && sent < n) {
      // The write queue is over Node's threshold: send the next one and wait until it is written.
      await new Promise((resolve) => process.send(msg, resolve));
      sent++;
    }
  }
  return { sent };
}

serve({
  info: { serialization: process.env.BENCH_SERIALIZATION ?? 'unknown' },
  commands: { produce },
  onData: (msg) => process.send(msg),
});
