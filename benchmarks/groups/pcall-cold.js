'use strict';
// A cold pcall: 8 trivial targets in 8 fresh child processes, from the call to the results,
// against starting one child process with child_process.fork() until it can talk.
const path = require('node:path');
const { fork } = require('node:child_process');
const { once } = require('node:events');
const { defineGroup } = require('../lib/group');
const { childrenDir } = require('../lib/child');
const { shmsync } = require('../lib/shmsync');

const kCalls = 8;
const kPcall = `pcall of ${kCalls} trivial targets, cold (process mode)`;
const kReady = path.join(childrenDir, 'ready.js');

/** Forks `count` minimal children at once; resolves with the ns until every one said 'ready'. */
async function forkUntilReady(count) {
  const t0 = process.hrtime.bigint();
  const children = Array.from({ length: count }, () =>
    fork(kReady, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  try {
    await Promise.all(children.map((c) => once(c, 'message')));
    return Number(process.hrtime.bigint() - t0);
  } finally {
    // Not timed: let them go and wait until they are gone, so the next op starts from quiet.
    await Promise.all(
      children.map((c) => {
        if (c.exitCode !== null || c.signalCode !== null) return null;
        const exited = once(c, 'exit');
        if (c.connected) c.disconnect();
        else c.kill('SIGKILL');
        return exited;
      }),
    );
  }
}

function forkPeer(count) {
  return {
    fixedN: count === 1 ? 3 : 1,
    maxSamples: 5,
    warmUp: false, // every fork is cold
    async run(n) {
      let elapsedNs = 0;
      for (let i = 0; i < n; i++) elapsedNs += await forkUntilReady(count);
      return { elapsedNs };
    },
  };
}

module.exports = defineGroup({
  name: 'pcall-cold',
  title: `Cold pcall of ${kCalls} trivial targets vs starting a child process`,
  metric: 'time',
  unit: 'call',
  notes: `shmsync: \`await pcall((x) => x, { iargs: [[0], …, [${kCalls - 1}]] })\`, no pool: ${kCalls} fresh children, until the results are back (children start in parallel). Peers: fork() of a minimal script until its first message arrives (its exit is not timed), one child, and ${kCalls} at once.`,
  competitors: [
    {
      name: kPcall,
      side: 'shmsync',
      setup() {
        const { pcall } = shmsync();
        const iargs = Array.from({ length: kCalls }, (_, i) => [i]);
        return {
          fixedN: 1,
          maxSamples: 5, // a cold pcall of 8 children takes seconds on a loaded 2-core machine
          async run(n) {
            for (let i = 0; i < n; i++) {
              const r = await pcall((x) => x, { iargs });
              if (r.length !== kCalls || r[kCalls - 1] !== kCalls - 1)
                throw new Error(`pcall returned ${JSON.stringify(r)}`);
            }
          },
        };
      },
    },
    { name: 'child_process.fork() until ready, one child', side: 'peer', setup: () => forkPeer(1) },
    {
      name: `child_process.fork() until ready, ${kCalls} children at once`,
      side: 'peer',
      setup: () => forkPeer(kCalls),
    },
  ],
});
