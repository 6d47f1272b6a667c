'use strict';
// Names of the shared-memory objects a benchmark creates, and their removal. Every name made
// here is remembered; `unlinkName(name)` removes one (teardown), and whatever is still listed
// when the harness process exits (a failed setup, an exception, Ctrl-C) is unlinked then, so a
// run never leaves segments in /dev/shm.
const { loadShmsync } = require('./shmsync');

const live = new Map(); // name -> kind ('region' | 'value')
let seq = 0;
let hooked = false;

function hook() {
  if (hooked) return;
  hooked = true;
  process.once('exit', unlinkAll);
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      unlinkAll();
      process.exit(130);
    });
  }
}

/**
 * A fresh name for a benchmark object (`kind` helps when reading /dev/shm). `type` 'value' for
 * SharedValue/SharedArray (their unlink also removes their own lock), else any other handle.
 */
function benchName(kind, type = 'region') {
  hook();
  const name = `bench-${process.pid}-${kind}-${seq++}`;
  live.set(name, type);
  return name;
}

/** Removes a name made by benchName (idempotent; never throws). */
function unlinkName(name) {
  const type = live.get(name);
  live.delete(name);
  const { shmsync, error } = loadShmsync();
  if (error) return;
  try {
    if (type === 'value') shmsync.SharedValue.unlink(name);
    else shmsync.ShmQueue.unlink(name); // = Mutex.unlink / SharedMemory: the same segment namespace
  } catch {}
}

function unlinkAll() {
  for (const name of [...live.keys()]) unlinkName(name);
}

/**
 * Segments the library created on its own in this process (unnamed objects: `<kind>-<pid in
 * base 36>-<hex>`, e.g. pcall's result queues) that are still in /dev/shm: removes them and
 * returns their names. Call when every benchmark has finished; any entry is a leak.
 */
function leakedSegments() {
  const fs = require('node:fs');
  const tag = `-${process.pid.toString(36)}-`;
  let names;
  try {
    names = fs.readdirSync('/dev/shm');
  } catch {
    return [];
  }
  const leaked = names.filter((n) => n.startsWith('shmsync-') && n.includes(tag) && /-[0-9a-f]{16}$/.test(n));
  for (const n of leaked) {
    try {
      fs.unlinkSync(`/dev/shm/${n}`);
    } catch {}
  }
  return leaked;
}

/**
 * Runs `build(track)` and, if it throws, runs every cleanup it registered with `track(fn)`
 * (newest first) before rethrowing. For setups that create resources step by step.
 */
async function guarded(build) {
  const cleanups = [];
  const track = (fn) => {
    cleanups.push(fn);
    return fn;
  };
  try {
    return await build(track);
  } catch (err) {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch {}
    }
    throw err;
  }
}

module.exports = { benchName, unlinkName, unlinkAll, guarded, leakedSegments };
