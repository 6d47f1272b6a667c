'use strict';
// Runs one benchmark group in a process of its own (forked by run.js) and sends its result
// back. Isolation matters: some state is process-wide and one-way - the first
// AsyncLocalStorage.run() (shmsync's lock scopes: withLock, @Lockable.locked) turns on V8
// promise hooks that slow every later Promise in the process, the parker thread, JIT and GC
// history - so a group must not inherit them from the groups before it.
//
//   fork(lib/group-process.js, [groupName, JSON.stringify(opts)])  ->  message { result }
const { runGroup } = require('./group');
const { leakedSegments, unlinkAll } = require('./shm-names');

async function main() {
  const [name, json] = process.argv.slice(2);
  const opts = JSON.parse(json);
  const group = require('../groups').find((g) => g.name === name);
  if (!group) throw new Error(`unknown group ${name}`);
  const t0 = Date.now();
  const result = await runGroup(group, opts);
  result.seconds = Number(((Date.now() - t0) / 1000).toFixed(1));
  unlinkAll(); // anything a competitor forgot
  const leaked = leakedSegments();
  if (leaked.length) result.leakedSegments = leaked;
  await new Promise((resolve) => process.send({ result }, resolve));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
