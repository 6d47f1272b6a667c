'use strict';
// Issue 13's benchmarks: the Web Locks API across processes (shmsync's LockManager / RwLock).
//  1. uncontended `request(name, cb)` round trip: shmsync vs Node's in-process navigator.locks
//     (Node >= 24 only: when this node lacks it, the three row-1 competitors run in child
//     processes of a Node >= 24 binary from SHMSYNC_BENCH_NODES) and proper-lockfile lock+unlock;
//  2. RwLock uncontended acquireSharedSync/acquireExclusiveSync + release (reference rows);
//  3. 4 processes looping one mode for a fixed time: total acquisitions/s, shared vs exclusive,
//     and fs-ext flock(LOCK_SH) as the peer.
// One metric for all: time per op (rows 3: per acquisition of all 4 processes together, whose
// ops/s column is the total rate).
const fs = require('node:fs');
const path = require('node:path');
const { defineGroup } = require('../lib/group');
const { op, peerInstalled } = require('../lib/competitor');
const { isolated } = require('../lib/isolated');
const { forkChild } = require('../lib/child');
const { resolveNodes, kEnv } = require('../lib/nodes');
const { shmsync } = require('../lib/shmsync');
const { benchName, unlinkName, guarded } = require('../lib/shm-names');
const fmt = require('../lib/format');

const kBodies = require.resolve('../children/web-locks-bodies');
const kRequest = 'locks.request(name, cb) round trip, uncontended';
const kNavigator = "navigator.locks.request(name, cb), Node's in-process Web Locks";
const kLockfile = 'proper-lockfile lock()+release() async';
const kShared4 = 'RwLock shared, 4 processes, acquireSharedSync()+release()';
const kExclusive4 = 'RwLock exclusive, 4 processes, acquireExclusiveSync()+release()';
const kFlockSh4 = "fs-ext flockSync(fd, 'sh')+un (LOCK_SH), 4 processes";
const kParties = 4;
const kNeeds24 = `not measured: needs Node ≥ 24 (navigator.locks); name one in ${kEnv}`;

/**
 * The Node that runs row 1: this node when it has navigator.locks, else the first Node >= 24 of
 * SHMSYNC_BENCH_NODES, else null (the navigator row is skipped, the other two run here).
 */
function pickNode() {
  const { nodes } = resolveNodes();
  const current = nodes.find((n) => n.current);
  if (current && current.major >= 24) return current;
  return nodes.find((n) => n.major >= 24) ?? null;
}
const rowNode = pickNode();
const inChild = rowNode && !rowNode.current;
const row1 = (name) =>
  rowNode ? isolated(kBodies, name, { execPath: inChild ? rowNode.execPath : undefined }) : isolated(kBodies, name);

function nodeDetail(r) {
  const m = r.extra?.nodeMajor?.median;
  return m
    ? `ran in a process of its own under Node ${m}${rowNode && rowNode.major === m ? ` (${rowNode.version})` : ''}`
    : null;
}

/** A fresh RwLock in this process; teardown closes and unlinks it. */
function rwSetup(makeRun) {
  return () => {
    const { RwLock } = shmsync();
    const name = benchName('rw');
    let rw;
    try {
      rw = new RwLock(name, { create: 'create' });
      return {
        run: makeRun(rw),
        teardown() {
          rw.close();
          try {
            RwLock.unlink(name);
          } catch {}
          unlinkName(name);
        },
      };
    } catch (err) {
      if (rw) rw.close();
      unlinkName(name);
      throw err;
    }
  };
}

/** kParties children of children/rwlock-peer.js (BENCH_RW = kind), one sample = all hammer for the sample time. */
function fourProcesses(kind) {
  return (ctx) =>
    guarded(async (track) => {
      const { SharedMemory, RwLock } = shmsync();
      const lockName = benchName('rw4');
      const controlName = benchName('rw4-ctl');
      track(() => unlinkName(lockName));
      track(() => unlinkName(controlName));
      const control = new SharedMemory(controlName, { size: 64, create: 'create' });
      track(() => control.close());
      const i32 = new Int32Array(control.buffer.buffer, control.buffer.byteOffset, 16);
      let rw = null;
      const file = path.join(ctx.tmpdir, `rw4-${kind}`);
      if (kind === 'flock-sh') {
        fs.writeFileSync(file, '');
      } else {
        rw = new RwLock(lockName, { create: 'create' });
        track(() => rw.close());
      }
      const env = { ...process.env, BENCH_RW: kind };
      const children = [];
      track(() => Promise.all(children.map((c) => c.close().catch(() => c.kill()))));
      for (let i = 0; i < kParties; i++) children.push(await forkChild('rwlock-peer.js', { env }));
      for (const c of children) await c.call('open', { name: lockName, file, controlName });
      const durationMs = ctx.sampleTimeMs;
      return {
        fixedN: 1,
        async run() {
          Atomics.store(i32, 0, 0);
          const before = i32[1];
          const rs = await Promise.all(children.map((c) => c.call('hammer', { durationMs, parties: kParties })));
          const total = rs.reduce((a, r) => a + r.count, 0);
          if (kind === 'exclusive' && i32[1] - before !== total) {
            throw new Error(`exclusion broken: shared counter +${i32[1] - before}, acquisitions ${total}`);
          }
          const rates = rs.map((r) => (r.count * 1e9) / r.elapsedNs);
          return {
            elapsedNs: Math.max(...rs.map((r) => r.elapsedNs)),
            ops: total,
            extra: { perProcessLow: Math.min(...rates), perProcessHigh: Math.max(...rates) },
          };
        },
        async teardown() {
          await Promise.all(children.map((c) => c.close()));
          if (rw) rw.close();
          control.close();
          unlinkName(lockName);
          unlinkName(controlName);
        },
      };
    });
}

function rateDetail(r) {
  const x = r.extra;
  return `per process ${fmt.rate(x.perProcessLow.median)} (slowest) / ${fmt.rate(x.perProcessHigh.median)} (fastest), median of samples; ops/s = all ${kParties} together`;
}

module.exports = defineGroup({
  name: 'web-locks',
  title: 'Web Locks (issue 13): request() round trip, RwLock, 4-process shared throughput',
  metric: 'time',
  unit: 'op',
  notes:
    `First three rows: one uncontended \`await request('bench-lock', () => {})\` (shmsync: a LockManager in a namespace of its own, cleaned up after; proper-lockfile: lock()+release(), mkdir lock dir), each in a process of its own under ${
      rowNode
        ? `Node ${rowNode.major} (${rowNode.version}${inChild ? `, ${rowNode.execPath}` : ', this node'})`
        : `this node (${process.version})`
    }.` +
    (rowNode ? '' : ` navigator.locks ${kNeeds24}.`) +
    ` RwLock rows: uncontended, this process. 4-process rows: ${kParties} child processes loop one mode on one lock for the sample time each (start barrier in shared memory); time/op and ops/s are per acquisition of all ${kParties} together (2-core machine: 4 processes share 2 CPUs). The exclusive row checks a shared non-atomic counter against the acquisitions.`,
  competitors: [
    { name: kRequest, side: 'shmsync', setup: row1('shmsyncRequest'), detail: nodeDetail },
    {
      name: kNavigator,
      side: 'peer',
      vs: kRequest,
      available: () => (rowNode ? true : kNeeds24),
      setup: row1('navigatorRequest'),
      detail: nodeDetail,
    },
    { name: kLockfile, side: 'peer', vs: kRequest, setup: row1('properLockfile'), detail: nodeDetail },
    {
      name: 'RwLock acquireSharedSync()+release()',
      side: 'shmsync',
      setup: rwSetup((rw) =>
        op(() => {
          rw.acquireSharedSync();
          rw.release();
        }),
      ),
    },
    {
      name: 'RwLock acquireExclusiveSync()+release()',
      side: 'shmsync',
      setup: rwSetup((rw) =>
        op(() => {
          rw.acquireExclusiveSync();
          rw.release();
        }),
      ),
    },
    { name: kShared4, side: 'shmsync', setup: fourProcesses('shared'), detail: rateDetail },
    { name: kExclusive4, side: 'shmsync', setup: fourProcesses('exclusive'), detail: rateDetail },
    {
      name: kFlockSh4,
      side: 'peer',
      vs: kShared4,
      available: () => peerInstalled('fs-ext'),
      setup: fourProcesses('flock-sh'),
      detail: rateDetail,
    },
  ],
});

module.exports.names = { kRequest, kNavigator, kLockfile, kShared4, kExclusive4, kFlockSh4 };
