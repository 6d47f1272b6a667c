'use strict';
// Row 1 of the web-locks group: one uncontended lock request round trip, each competitor in a
// process of its own (lib/isolated.js) under the Node binary the group picked (Node >= 24 when
// one is available, since navigator.locks exists only there), so all three run on one Node.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { asyncOp, requirePeer } = require('../lib/competitor');
const { shmsync } = require('../lib/shmsync');

const nodeMajor = Number(process.versions.node.split('.')[0]);
const extra = { nodeMajor };
const kLockName = 'bench-lock';

/** `run` that also reports which Node it ran under (`extra.nodeMajor`). */
function reporting(loop) {
  return async (n) => {
    await loop(n);
    return { extra };
  };
}

/** The weblocks segments of a namespace still in /dev/shm (none once the manager trimmed). */
function segmentsOf(namespace) {
  const euid = typeof process.geteuid === 'function' ? process.geteuid() : 0;
  const prefix = `weblocks-${euid}-${namespace}-`;
  try {
    return fs.readdirSync('/dev/shm').filter((n) => n.includes(prefix));
  } catch {
    return [];
  }
}

module.exports = {
  /** shmsync's LockManager in a namespace of its own: `await m.request(name, () => {})`. */
  shmsyncRequest() {
    const { LockManager } = shmsync();
    const namespace = `bench-${process.pid}`;
    const m = new LockManager({ namespace });
    return {
      run: reporting(asyncOp(() => m.request(kLockName, () => {}))),
      teardown() {
        m.trim();
        const left = segmentsOf(namespace);
        for (const n of left) {
          try {
            fs.unlinkSync(`/dev/shm/${n}`);
          } catch {}
        }
        if (left.length) throw new Error(`lock segments left after trim(): ${left.join(', ')}`);
      },
    };
  },
  /** Node's in-process Web Locks (Node >= 24): `await navigator.locks.request(name, () => {})`. */
  navigatorRequest() {
    const locks = globalThis.navigator?.locks;
    if (!locks) throw new Error(`navigator.locks is not in Node ${process.version} (needs Node >= 24)`);
    return { run: reporting(asyncOp(() => locks.request(kLockName, () => {}))) };
  },
  /** proper-lockfile, async: `await release(await lock(file))` (mkdir lock dir). */
  properLockfile(ctx) {
    const lockfile = requirePeer('proper-lockfile');
    const dir = fs.mkdtempSync(path.join(ctx.tmpdir ?? os.tmpdir(), 'plf-'));
    const file = path.join(dir, 'lock-target');
    fs.writeFileSync(file, '');
    return {
      run: reporting(
        asyncOp(async () => {
          const release = await lockfile.lock(file);
          await release();
        }),
      ),
      teardown: () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  },
};
