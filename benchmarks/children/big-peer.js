'use strict';
// Sends one large Buffer to the parent over the IPC channel (forked with serialization
// 'advanced', so it arrives as a Buffer). The peer of a pcall returning a large result.
const { serve } = require('../lib/serve');

let big = null;

serve({
  commands: {
    send({ bytes }) {
      if (big === null || big.length !== bytes) big = Buffer.alloc(bytes, 7);
      return new Promise((resolve) => process.send(big, () => resolve({ sent: bytes })));
    },
  },
});
