'use strict';
// Unix-socket peer: 'connect' to the parent's server; then echoes every frame back
// (ping-pong) and, on 'produce', writes n framed 64-byte messages, one write() each, optionally
// corked in batches, waiting for 'drain' when the socket buffer is full.
const net = require('node:net');
const { once } = require('node:events');
const { serve } = require('../lib/serve');
const { encodeFrame, FrameDecoder } = require('../lib/frames');
const { buffer64 } = require('../lib/payloads');

let socket = null;

async function connect({ path }) {
  socket = net.connect(path);
  await once(socket, 'connect');
  const decoder = new FrameDecoder((payload) => socket.write(encodeFrame(payload)));
  socket.on('data', (chunk) => decoder.push(chunk));
  return { connected: true };
}

async function produce({ n, corked = false, batch = 256 }) {
  const payload = buffer64();
  let sent = 0;
  while (sent < n) {
    const end = Math.min(n, sent + (corked ? batch : 1));
    if (corked) socket.cork();
    let ok = true;
    for (; sent < end; sent++) ok = socket.write(encodeFrame(payload));
    if (corked) socket.uncork();
    if (!ok) await once(socket, 'drain');
  }
  return { sent };
}

serve({
  commands: { connect, produce },
  close: () => socket && socket.destroy(),
});
