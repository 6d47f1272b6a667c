'use strict';
// Child side of a child_process IPC throughput run (children/ipc-peer.js,
// children/pipeline-ipc-stage.js): send one message n times as fast as the channel takes them.

/**
 * process.send()s `msg` n times. When Node's write queue is over its threshold (send returns
 * false) it sends the next one with a callback and waits until that is written, so this process
 * never holds an unbounded queue. Resolves with `{ sent: n }`.
 */
async function sendAll(msg, n) {
  let sent = 0;
  while (sent < n) {
    const ok = process.send(msg);
    sent++;
    if (!ok && sent < n) {
      await new Promise((resolve) => process.send(msg, resolve));
      sent++;
    }
  }
  return { sent };
}

module.exports = { sendAll };
