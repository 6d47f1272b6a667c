'use strict';
// Lock + unlock with nobody else wanting the lock: the cost every critical section pays.
const fs = require('node:fs');
const path = require('node:path');
const { promisify } = require('node:util');
const { defineGroup } = require('../lib/group');
const { op, asyncOp, requirePeer, peerInstalled } = require('../lib/competitor');
const { AtomicsMutex } = require('../peers/atomics-mutex');
const { shmsync } = require('../lib/shmsync');
const { benchName, unlinkName } = require('../lib/shm-names');

const kSync = 'Mutex acquireSync()+release()';
const kAsync = 'Mutex (await acquire()).release()';

/** A fresh shmsync Mutex; teardown closes and unlinks it. */
function mutexSetup(makeRun) {
  return () => {
    const { Mutex } = shmsync();
    const name = benchName('lock');
    let m;
    try {
      m = new Mutex(name);
      return {
        run: makeRun(m),
        teardown() {
          m.close();
          unlinkName(name);
        },
      };
    } catch (err) {
      if (m) m.close();
      unlinkName(name);
      throw err;
    }
  };
}

function tempFile(ctx, name) {
  const file = path.join(ctx.tmpdir, name);
  fs.writeFileSync(file, '');
  return file;
}

/** fs-ext: flock(2) on an open descriptor. */
function flockSetup(ctx, makeRun) {
  const fsExt = requirePeer('fs-ext');
  const fd = fs.openSync(tempFile(ctx, 'flock'), 'r+');
  return { run: makeRun(fsExt, fd), teardown: () => fs.closeSync(fd) };
}

module.exports = defineGroup({
  name: 'lock-uncontended',
  title: 'Uncontended lock + unlock, one process',
  metric: 'time',
  unit: 'cycle',
  notes:
    'Cross-process peers: proper-lockfile (mkdir lock dir), fs-ext flock(2). Single-process references: async-mutex (Promise queue), a SharedArrayBuffer Atomics mutex (threads only).',
  competitors: [
    {
      name: kSync,
      side: 'shmsync',
      setup: mutexSetup((m) =>
        op(() => {
          m.acquireSync();
          m.release();
        }),
      ),
    },
    {
      name: kAsync,
      side: 'shmsync',
      setup: mutexSetup((m) =>
        asyncOp(async () => {
          (await m.acquire()).release();
        }),
      ),
    },
    {
      name: 'proper-lockfile lockSync()+release()',
      side: 'peer',
      vs: kSync,
      setup(ctx) {
        const lockfile = requirePeer('proper-lockfile');
        const file = tempFile(ctx, 'plf-sync');
        return {
          run: op(() => {
            const release = lockfile.lockSync(file);
            release();
          }),
        };
      },
    },
    {
      name: 'proper-lockfile lock()+release() async',
      side: 'peer',
      vs: kAsync,
      setup(ctx) {
        const lockfile = requirePeer('proper-lockfile');
        const file = tempFile(ctx, 'plf-async');
        return {
          run: asyncOp(async () => {
            const release = await lockfile.lock(file);
            await release();
          }),
        };
      },
    },
    {
      name: 'fs-ext flockSync() ex+un',
      side: 'peer',
      vs: kSync,
      available: () => peerInstalled('fs-ext'),
      setup: (ctx) =>
        flockSetup(ctx, (fsExt, fd) =>
          op(() => {
            fsExt.flockSync(fd, 'ex');
            fsExt.flockSync(fd, 'un');
          }),
        ),
    },
    {
      name: 'fs-ext flock() ex+un async',
      side: 'peer',
      vs: kAsync,
      available: () => peerInstalled('fs-ext'),
      setup: (ctx) =>
        flockSetup(ctx, (fsExt, fd) => {
          const flock = promisify(fsExt.flock);
          return asyncOp(async () => {
            await flock(fd, 'ex');
            await flock(fd, 'un');
          });
        }),
    },
    {
      name: 'async-mutex acquire()+release()',
      side: 'peer',
      vs: kAsync,
      setup() {
        const { Mutex } = requirePeer('async-mutex');
        const mutex = new Mutex();
        return {
          run: asyncOp(async () => {
            const release = await mutex.acquire();
            release();
          }),
        };
      },
    },
    {
      name: 'SharedArrayBuffer Atomics mutex',
      side: 'peer',
      vs: kSync,
      setup() {
        const mutex = new AtomicsMutex();
        return {
          run: op(() => {
            mutex.lock();
            mutex.unlock();
          }),
        };
      },
    },
  ],
});
