'use strict';
// What one `await` costs in a process after its first lock scope (`withLock`) has run and
// ended, against the same in a process that never opened one - on every Node version given
// (lib/nodes.js: this node plus SHMSYNC_BENCH_NODES). Each row runs in a process of its own
// under that Node binary (lib/isolated.js, children/await-bodies.js).
const { defineGroup } = require('../lib/group');
const { isolated } = require('../lib/isolated');
const { resolveNodes, kWantedMajors, kEnv } = require('../lib/nodes');
const fmt = require('../lib/format');

const kBodies = require.resolve('../children/await-bodies');
const afterName = (n) => `await after a withLock scope ran and ended, Node ${n.major} (${n.version})`;
const beforeName = (n) => `await before any lock scope, Node ${n.major} (${n.version})`;

const { nodes } = resolveNodes();
const missing = kWantedMajors.filter((m) => !nodes.some((n) => n.major === m));

module.exports = defineGroup({
  name: 'await-after-lock',
  title: '`await` cost after the first lock scope, per Node version',
  metric: 'time',
  unit: 'await',
  notes:
    "One op = call an async function and await its promise, in a process that loaded shmsync and keeps a Mutex open. The shmsync row ran one `await m.withLock(async () => {})` to its end before measuring; its peer (same Node binary, its own process) never opened a lock scope. Each row is a process of its own under the Node binary it names; the `·` line gives the same loop timed in the shmsync row's own process before its scope." +
    (missing.length ? ` Not measured here: Node ${missing.join(', ')} (no binary given: set ${kEnv}).` : ''),
  competitors: nodes.flatMap((n) => [
    {
      name: afterName(n),
      side: 'shmsync',
      setup: isolated(kBodies, 'awaitAfter', { execPath: n.execPath }),
      detail(r) {
        const before = r.extra?.sameProcessBeforeNs?.median;
        if (!(before > 0)) return null;
        return `same process before its scope: ${fmt.duration(before)} per await (after / before ${fmt.sig(r.nsPerOp / before, 3)}×)`;
      },
    },
    {
      name: beforeName(n),
      side: 'peer',
      vs: afterName(n),
      setup: isolated(kBodies, 'awaitBefore', { execPath: n.execPath }),
    },
  ]),
});

module.exports.afterName = afterName;
module.exports.beforeName = beforeName;
