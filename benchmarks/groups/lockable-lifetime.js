'use strict';
// What an anonymous lock costs over its whole life (issue 16): creating and dropping a Lockable
// (its attached-lifetime segment is created only on first use), and creating one, taking and
// releasing its lock once and closing it (segment created, mapped, attached, unlinked) - against
// creating a pyATS-style in-process lock, an async-mutex Mutex. Ratios are from the same run.
const { defineGroup } = require('../lib/group');
const { op, asyncOp, requirePeer, peerInstalled } = require('../lib/competitor');
const { shmsync } = require('../lib/shmsync');

const kCreate = 'new Lockable(), dropped';
const kUse = 'new Lockable(), acquireSync + release, close()';
const kUseAsync = 'new Lockable(), await acquire() + release, close()';

const asyncMutexAvailable = () => peerInstalled('async-mutex');

module.exports = defineGroup({
  name: 'lockable-lifetime',
  title: 'Creating and dropping an anonymous lock',
  metric: 'time',
  unit: 'object',
  notes:
    'An anonymous Lockable has the attached lifetime (docs/concepts/naming-and-lifetime.md): creating one allocates no segment; the first acquire creates it (shm_open, fchmod, ftruncate, mmap, link, unlink of the temporary name) and the last close unlinks it, so the "acquire + close" rows pay one segment create/destroy per object. Objects dropped without close() are released by garbage collection (not measured here: a sync loop never yields to the FinalizationRegistry). The issue asks for "create and drop" within 20x of the async-mutex row.',
  competitors: [
    {
      name: kCreate,
      side: 'shmsync',
      setup() {
        const { Lockable } = shmsync();
        return { run: op(() => new Lockable()) };
      },
    },
    {
      name: kUse,
      side: 'shmsync',
      setup() {
        const { Lockable } = shmsync();
        return {
          run: op(() => {
            const l = new Lockable();
            l.acquireSync();
            l.release();
            l.close();
            return l;
          }),
        };
      },
    },
    {
      name: kUseAsync,
      side: 'shmsync',
      setup() {
        const { Lockable } = shmsync();
        return {
          run: asyncOp(async () => {
            const l = new Lockable();
            const guard = await l.acquire();
            guard.release();
            l.close();
            return l;
          }),
        };
      },
    },
    {
      name: 'async-mutex new Mutex(), dropped',
      side: 'peer',
      vs: [kCreate],
      available: asyncMutexAvailable,
      setup() {
        const { Mutex } = requirePeer('async-mutex');
        return { run: op(() => new Mutex()) };
      },
    },
    {
      name: 'async-mutex new Mutex(), await acquire() + release',
      side: 'peer',
      vs: [kUse, kUseAsync],
      available: asyncMutexAvailable,
      setup() {
        const { Mutex } = requirePeer('async-mutex');
        return {
          run: asyncOp(async () => {
            const m = new Mutex();
            const release = await m.acquire();
            release();
            return m;
          }),
        };
      },
    },
  ],
});
