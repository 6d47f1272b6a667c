// The queue section's producer process (queue.js). argv: the queue's handle reference (JSON),
// duration in ms, batch size, message size. On { type: 'go' } it puts numbered raw messages
// (sequence in the first 8 bytes) with putManySync for `duration` ms, then ends the queue
// (the consumer drains what is left and ends) and replies { type: 'done', sent }.
'use strict';
const { reviveHandle } = require('../../dist');

const [refJson, durationArg, batchArg, sizeArg] = process.argv.slice(2);
const q = reviveHandle(JSON.parse(refJson));
const duration = Number(durationArg);
const batch = Array.from({ length: Number(batchArg) }, () => Buffer.alloc(Number(sizeArg), 0x2a));

function produce() {
  let sent = 0;
  const end = performance.now() + duration;
  while (performance.now() < end) {
    for (const m of batch) m.writeBigUInt64LE(BigInt(sent++), 0);
    q.putManySync(batch); // blocks while the ring is full: backpressure from the consumer
  }
  q.end();
  return sent;
}

process.once('message', () => {
  const sent = produce();
  q.close();
  process.send({ type: 'done', sent }, () => process.disconnect());
});
process.send({ type: 'ready' });
