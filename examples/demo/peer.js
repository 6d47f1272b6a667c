// The demo's second process. It receives requests from the parent over IPC; each request names a
// demo step and carries the handles it needs as JSON references ({ $shmsync, name, ... }), which
// reviveHandle() reopens here. Replies { type: 'reply', notes: [...] } or { type: 'error' }.
// Add a handler per demo section. Exits when the parent disconnects.
'use strict';
const { reviveHandle } = require('../../dist');

const handlers = {
  /** Shared memory: write a length-prefixed UTF-8 greeting into the segment. */
  'shared-memory:greet'({ ref }) {
    const shm = reviveHandle(ref);
    try {
      const text = Buffer.from(`Hello from peer ${process.pid}, through shared memory!`, 'utf8');
      if (4 + text.length > shm.size)
        throw new RangeError(`greeting needs ${4 + text.length} bytes, segment has ${shm.size}`);
      const length = Buffer.alloc(4);
      length.writeUInt32LE(text.length, 0);
      shm.write(text, 4); // the text first, then its length: a reader never sees a length without text
      shm.write(length, 0);
      return { notes: [`opened "${ref.name}" and wrote a ${text.length}-byte greeting`] };
    } finally {
      shm.close();
    }
  },
};

process.on('message', (m) => {
  const handler = handlers[m.type];
  try {
    if (handler === undefined) throw new Error(`unknown request ${m.type}`);
    process.send({ type: 'reply', ...handler(m) });
  } catch (err) {
    process.send({ type: 'error', message: err.stack || String(err) });
  }
});
