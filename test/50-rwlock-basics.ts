import t, { type Test } from 'tap';
import { once } from 'node:events';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { reviveHandle, RwLock, type RwLockGuard } from '../dist';
import { fixturesDir } from './helpers/fork';
import { testName } from './helpers/shm';

type Err = Error & { code?: string };

function rwFor(t: Test, tag: string): RwLock {
  const rw = new RwLock(testName(tag), { create: 'create' });
  t.teardown(() => {
    rw.close();
    RwLock.unlink(rw.name);
  });
  return rw;
}

t.test('shared holders overlap; an exclusive holder excludes everyone', async (t) => {
  const rw = rwFor(t, 'rw-basic');
  const a = await rw.acquireShared();
  const b = await rw.acquireShared();
  t.equal(a.mode, 'shared');
  t.equal(rw.info().holders.length, 2, 'two shared holders at once');
  t.equal(rw.tryAcquireExclusive(), false, 'exclusive refused while shared holders remain');
  a.release();
  b.release();
  t.equal(rw.tryAcquireExclusive(), true, 'exclusive once they left');
  t.equal(rw.heldMode, 'exclusive');
  const shared = rw.acquireShared({ timeout: 30 });
  await t.rejects(shared, { code: 'SHMSYNC_TIMEOUT' }, 'a shared request waits for the exclusive holder');
  rw.release();
  t.equal(rw.heldMode, null);
  t.equal(rw.info().holders.length, 0);
});

t.test('grants follow request order: a queued exclusive request is not passed by later shared ones', async (t) => {
  const rw = rwFor(t, 'rw-order');
  const first = await rw.acquireShared();
  const order: string[] = [];
  const x = rw.acquireExclusive().then((g) => {
    order.push('x');
    return g;
  });
  const s = rw.acquireShared().then((g) => {
    order.push('s');
    return g;
  });
  t.same(
    rw.info().waiting.map((w) => w.mode),
    ['exclusive', 'shared'],
    'queue in request order',
  );
  t.equal(rw.tryAcquireShared(), false, 'a try-only shared request does not jump the queued exclusive one');
  first.release();
  const gx = await x;
  t.same(order, ['x'], 'the exclusive request was granted first');
  gx.release();
  (await s).release();
  t.same(order, ['x', 's']);
});

t.test('reentrancy: exclusive re-enters in both modes, shared re-enters shared, an upgrade throws', async (t) => {
  const rw = rwFor(t, 'rw-reenter');
  t.ok(rw.acquireExclusiveSync());
  t.ok(rw.acquireExclusiveSync(), 'exclusive re-entered');
  t.ok(rw.acquireSharedSync(), 'shared inside exclusive is covered by it');
  rw.release();
  rw.release();
  t.equal(rw.heldMode, 'exclusive', 'still held after two of three releases');
  rw.release();
  t.equal(rw.heldMode, null);
  t.ok(rw.acquireSharedSync());
  t.ok(rw.acquireSharedSync(), 'shared re-entered');
  t.throws(() => rw.acquireExclusiveSync(), { code: 'SHMSYNC_DEADLOCK' }, 'upgrade refused (sync)');
  t.throws(() => rw.tryAcquireExclusive(), { code: 'SHMSYNC_DEADLOCK' }, 'upgrade refused (try)');
  rw.release();
  rw.release();
  t.throws(() => rw.release(), { code: 'SHMSYNC_NOT_OWNER' });
  await rw.withShared(async () => {
    await t.rejects(rw.acquireExclusive(), { code: 'SHMSYNC_DEADLOCK' }, 'upgrade refused (Promise, in scope)');
    const inner = await rw.acquireShared();
    t.equal(inner.reentrant, true, 'shared re-entered in the scope');
    inner.release();
  });
  await rw.withExclusive(async () => {
    await rw.withShared(async () => t.equal(rw.heldMode, 'exclusive', 'nested withShared runs in the exclusive hold'));
  });
  t.equal(rw.info().holders.length, 0, 'everything released');
});

t.test('a blocking acquire while another task of this thread holds the lock throws instead of hanging', async (t) => {
  const rw = rwFor(t, 'rw-deadlock');
  const g = await rw.acquireShared();
  t.throws(() => rw.acquireExclusiveSync(), { code: 'SHMSYNC_DEADLOCK' });
  t.equal(rw.acquireExclusiveSync({ blocking: false }), false, 'a try just fails');
  t.ok(rw.acquireSharedSync(), 'a compatible blocking acquire is granted at once');
  rw.release();
  g.release();
  t.same(rw.info().waiting, [], 'the refused request left nothing queued');
});

t.test('timeout and AbortSignal withdraw a queued Promise request', async (t) => {
  const rw = rwFor(t, 'rw-abort');
  const g = await rw.acquireExclusive();
  const ac = new AbortController();
  const p = rw.acquireShared({ signal: ac.signal });
  t.equal(rw.info().waiting.length, 1);
  ac.abort();
  await t.rejects(p, { name: 'AbortError' });
  t.equal(rw.info().waiting.length, 0, 'aborted request withdrawn');
  await t.rejects(rw.acquireShared({ timeout: 0 }), { code: 'SHMSYNC_TIMEOUT' }, 'timeout 0: one attempt');
  t.equal(rw.info().waiting.length, 0, 'timed-out request withdrawn');
  await t.rejects(rw.acquireShared({ signal: AbortSignal.abort() }), { name: 'AbortError' }, 'pre-aborted');
  g.release();
  t.throws(() => rw.acquireSharedSync({ timeout: -1 }), { name: 'RangeError' });
  t.throws(() => rw.acquireSharedSync({ block: false } as never), /spelled 'blocking'/);
});

t.test('closing the last handle releases holds and fails queued requests', async (t) => {
  const name = testName('rw-close');
  const rw = new RwLock(name, { create: 'create' });
  const other = new RwLock(name);
  t.teardown(() => RwLock.unlink(name));
  const g = await rw.acquireExclusive();
  const p = other.acquireShared();
  other.close();
  t.equal(rw.info().waiting.length, 1, 'another handle keeps the engine');
  rw.close();
  await t.rejects(p, { code: 'SHMSYNC_CLOSED' });
  t.throws(() => g.release(), { code: 'SHMSYNC_NOT_OWNER' });
  t.throws(() => rw.acquireSharedSync(), { code: 'SHMSYNC_CLOSED' });
  const again = new RwLock(name);
  t.ok(again.tryAcquireExclusive(), 'the hold was given back');
  again.close();
});

t.test('a worker thread blocked in acquireExclusiveSync is woken by the release', async (t) => {
  const rw = rwFor(t, 'rw-worker');
  const g: RwLockGuard = await rw.acquireShared();
  const w = new Worker(path.join(fixturesDir, 'rwlock-agent.js'), { argv: [rw.name], execArgv: [] });
  t.teardown(() => w.terminate());
  await once(w, 'message'); // ready
  w.postMessage({ type: 'acquireExclusiveSync' });
  // The worker's request is queued (seen in the shared table) before we release.
  while (rw.info().waiting.length === 0) await new Promise(setImmediate);
  t.equal(rw.info().waiting[0].mode, 'exclusive');
  g.release();
  const [reply] = (await once(w, 'message')) as [{ ok: boolean; ownerDied: boolean }];
  t.match(reply, { ok: true, ownerDied: false });
  t.equal(rw.info().holders[0].mode, 'exclusive');
  w.postMessage({ type: 'release' });
  await once(w, 'message');
  t.equal(rw.tryAcquireShared(), true);
  rw.release();
});

t.test('a terminated worker holding the lock shared gives its share back (owner death)', async (t) => {
  const rw = rwFor(t, 'rw-terminate');
  const w = new Worker(path.join(fixturesDir, 'rwlock-agent.js'), { argv: [rw.name], execArgv: [] });
  await once(w, 'message'); // ready
  w.postMessage({ type: 'acquireShared' });
  await once(w, 'message');
  const x = rw.acquireExclusive();
  await w.terminate();
  const g = await x;
  t.equal(g.ownerDied, true, 'the exclusive grant reports the dead holder');
  t.equal(rw.info().ownerDeaths, 1);
  g.release();
});

t.test('argument validation', async (t) => {
  t.throws(() => new RwLock(''), { code: 'SHMSYNC_INVALID_NAME' });
  t.throws(() => new RwLock('x', { lifetime: 'forever' } as never), { name: 'TypeError' });
  const rw = rwFor(t, 'rw-args');
  await t.rejects(rw.acquireShared({ timeout: 'soon' } as never), { name: 'TypeError' });
  await t.rejects(rw.withExclusive('x' as never), { name: 'TypeError' });
  const err = (() => {
    try {
      new RwLock(rw.name, { create: 'create' });
    } catch (e) {
      return e as Err;
    }
    return null;
  })();
  t.equal(err?.code, 'SHMSYNC_EXISTS');
});

t.test('a handle reference reopens the same lock', async (t) => {
  const rw = rwFor(t, 'rw-ref');
  t.equal(rw.lifetime, 'persistent');
  const ref = JSON.parse(JSON.stringify(rw)) as { $shmsync: string; name: string };
  t.same(ref, { $shmsync: 'RwLock', name: rw.name });
  const other = reviveHandle(ref) as RwLock;
  t.ok(other instanceof RwLock);
  t.ok(rw.acquireExclusiveSync());
  t.equal(other.heldMode, 'exclusive', 'one engine per context: both handles see the hold');
  t.equal(other.info().holders.length, 1);
  rw.release();
  other.close();
});
