'use strict';
// Shared-channel writer for the channel-ipc group: receives a ChannelWriter by reference
// (encodeHandles envelope), then 'produce' writes n small objects (await write() per item).
const { serve } = require('../lib/serve');
const { shmsync } = require('../lib/shmsync');
const { smallObject } = require('../lib/payloads');

let writer = null;
serve({
  commands: {
    attach({ endpoint }) {
      writer = shmsync().decodeHandles(endpoint);
      return { ok: true };
    },
    async produce({ n }) {
      const msg = smallObject(1);
      for (let i = 0; i < n; i++) await writer.write(msg);
      return { sent: n };
    },
  },
  close() {
    writer?.release();
  },
});
