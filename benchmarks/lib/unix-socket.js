'use strict';
// Parent end of the Unix-socket peers: a server on a path in the group's temp dir, one forked
// children/socket-peer.js connected to it. Frames arriving from the child go to `onFrame`.
const net = require('node:net');
const path = require('node:path');
const { once } = require('node:events');
const { forkChild } = require('./child');
const { FrameDecoder } = require('./frames');

let seq = 0;

async function socketPeer(ctx) {
  const sockPath = path.join(ctx.tmpdir, `s${seq++}.sock`);
  const server = net.createServer();
  server.listen(sockPath);
  await once(server, 'listening');
  const child = await forkChild('socket-peer.js', { cpu: ctx.pin ? 1 : undefined });
  const accepted = once(server, 'connection');
  await child.call('connect', { path: sockPath });
  const [socket] = await accepted;
  const peer = {
    child,
    socket,
    onFrame: null,
    async close() {
      socket.destroy();
      server.close();
      await child.close();
    },
  };
  const decoder = new FrameDecoder((payload) => peer.onFrame(payload));
  socket.on('data', (chunk) => decoder.push(chunk));
  return peer;
}

module.exports = { socketPeer };
