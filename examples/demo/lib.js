// Small helpers shared by the demo sections: transcript lines and talking to peer.js.
'use strict';
const { fork } = require('node:child_process');
const path = require('node:path');

/** Prints one transcript line, e.g. `[parent] created ...`. */
function say(who, text) {
  console.log(`  ${`[${who}]`.padEnd(9)}${text}`);
}

/**
 * Forks peer.js and returns { child, request, done }:
 * - request(message) sends `message` and resolves with the peer's reply `{ type: 'reply', ... }`,
 *   or rejects with the peer's error / if it exits first;
 * - done() closes the IPC channel (the peer then exits) and resolves with { code, signal }.
 */
function startPeer() {
  const child = fork(path.join(__dirname, 'peer.js'), [], { serialization: 'advanced' });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let pending = null;
  child.on('message', (m) => {
    if (pending === null) return;
    const { resolve, reject } = pending;
    pending = null;
    if (m.type === 'error') reject(new Error(`peer failed: ${m.message}`));
    else resolve(m);
  });
  exited.then(({ code, signal }) => {
    if (pending !== null) pending.reject(new Error(`peer exited (code ${code}, signal ${signal}) before replying`));
    pending = null;
  });
  const request = (message) =>
    new Promise((resolve, reject) => {
      pending = { resolve, reject };
      child.send(message);
    });
  const done = () => {
    if (child.connected) child.disconnect();
    return exited;
  };
  return { child, request, done };
}

module.exports = { say, startPeer };
