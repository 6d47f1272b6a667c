'use strict';
// Child side of lib/child.js, for scripts in benchmarks/children/. Call once:
//
//   serve({
//     info: { what: 'anything the parent should see in child.info' },
//     commands: { async produce({ n }) { ...; return { sent: n }; } },
//     onData(msg) { ... },           // data messages from the parent (optional)
//     async close() { ... },         // before exiting on the parent's request (optional)
//   });
//
// Works in a forked process (IPC channel) and in a worker thread (parentPort).
const { isMainThread, parentPort } = require('node:worker_threads');

function serve({ info = {}, commands = {}, onData = null, close = null } = {}) {
  const port = isMainThread ? process : parentPort;
  if (isMainThread && typeof process.send !== 'function') {
    throw new Error('this benchmark child must be started by forkChild() (it needs an IPC channel)');
  }
  const send = isMainThread ? (m) => process.send(m) : (m) => parentPort.postMessage(m);
  const api = { send, onData };

  port.on('message', (msg) => {
    if (msg === null || typeof msg !== 'object' || msg.$bench === undefined) {
      if (api.onData !== null) api.onData(msg);
      return;
    }
    if (msg.$bench === 'call') {
      call(msg);
    } else if (msg.$bench === 'exit') {
      Promise.resolve(close && close()).then(
        () => process.exit(0),
        (err) => {
          console.error(err);
          process.exit(1);
        },
      );
    }
  });

  async function call({ id, cmd, params }) {
    try {
      const fn = commands[cmd];
      if (typeof fn !== 'function') throw new Error(`unknown command "${cmd}"`);
      send({ $bench: 'reply', id, result: (await fn(params, api)) ?? null });
    } catch (err) {
      send({ $bench: 'reply', id, error: { message: err.message, stack: err.stack } });
    }
  }

  // A child whose parent went away (crashed harness) must not linger.
  if (isMainThread) process.once('disconnect', () => process.exit(0));
  send({ $bench: 'ready', info: { pid: process.pid, ...info } });
  return api;
}

module.exports = { serve };
