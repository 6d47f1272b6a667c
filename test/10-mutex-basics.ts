import t, { type Test } from 'tap';
import { performance } from 'node:perf_hooks';
import { Mutex, reviveHandle, type MutexOptions } from '../dist';
import { Child, forkReady } from './helpers/fork';
import { segmentExists, testName } from './helpers/shm';

interface Reply {
  [key: string]: unknown;
  type: string;
  ok?: boolean;
  ownerDied?: boolean;
  fence?: bigint;
  error?: { code: string; name: string; message: string };
}
const AnyMutex = Mutex as unknown as new (name?: unknown, options?: unknown) => Mutex;
const loose = (m: Mutex) => m as unknown as Record<string, (...args: unknown[]) => unknown>;

/** A fresh mutex, closed and unlinked at teardown. */
function mutexFor(t: Test, tag: string, options: MutexOptions = {}): Mutex {
  const m = new Mutex(testName(tag), { create: 'create', ...options });
  t.teardown(() => {
    m.close();
    Mutex.unlink(m.name);
  });
  return m;
}

/** Forks the agent fixture on `target`; killed at teardown if the test did not finish it. */
async function agent(t: Test, target: string): Promise<Child> {
  const child = await forkReady('mutex-agent.js', [target]);
  t.teardown(() => child.kill());
  return child;
}

async function ask(child: Child, type: string, options?: object): Promise<Reply> {
  child.send({ type, options });
  return child.message<Reply>(type);
}

async function finish(t: Test, child: Child): Promise<void> {
  t.equal((await ask(child, 'exit')).ok, true, 'child closes its handle');
  t.same(await child.exited, { code: 0, signal: null }, 'child exits with code 0, no signal');
}

/** Polls shared state (no sleeping to synchronise): resolves once `cond()` holds. */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

t.test('nested acquireSync calls re-enter and the matching number of releases frees the lock', async (t) => {
  const m = mutexFor(t, 'reent');
  t.equal(m.acquireSync(), true);
  t.equal(m.acquireSync({ timeout: 0 }), true, 're-entry succeeds even with timeout 0');
  t.equal(m.tryAcquire(), true, 'tryAcquire re-enters');
  t.equal(m.acquireSync({ blocking: false }), true);
  t.equal(m.info().depth, 4);
  for (let depth = 3; depth >= 1; depth--) {
    m.release();
    t.equal(m.info().depth, depth);
    t.equal(m.isHeld, true, `still held at depth ${depth}`);
  }
  m.release();
  t.equal(m.isHeld, false);
  t.equal(m.info().locked, false, 'the last matching release frees it');
  t.throws(() => m.release(), { code: 'SHMSYNC_NOT_OWNER' }, 'one release too many');
});

t.test('another process gets false from tryAcquire and acquireSync({ blocking: false }) while held', async (t) => {
  const m = mutexFor(t, 'try');
  const child = await agent(t, m.name);
  t.equal(m.acquireSync(), true);
  t.match(await ask(child, 'tryAcquire'), { ok: false }, 'tryAcquire in the child');
  t.match(await ask(child, 'acquireSync', { blocking: false }), { ok: false }, 'non-blocking acquireSync');
  m.release();
  t.match(await ask(child, 'tryAcquire'), { ok: true, ownerDied: false }, 'free again: the child takes it');
  t.equal(m.tryAcquire(), false, 'now the parent is refused');
  t.equal(m.acquireSync({ blocking: false }), false);
  t.equal(m.info().holder?.pid, child.proc.pid);
  t.match(await ask(child, 'release'), { ok: true });
  t.equal(m.tryAcquire(), true);
  m.release();
  await finish(t, child);
});

t.test('a timed acquireSync returns false after at least the timeout', async (t) => {
  const m = mutexFor(t, 'timed');
  const child = await agent(t, m.name);
  t.match(await ask(child, 'acquireSync'), { ok: true });
  for (const timeout of [0, 1, 50, 120]) {
    const start = performance.now();
    t.equal(m.acquireSync({ timeout }), false, `timeout ${timeout} ms`);
    const elapsed = performance.now() - start;
    t.ok(elapsed >= timeout, `waited ${elapsed.toFixed(1)} ms >= ${timeout} ms`);
  }
  t.equal(m.info().waiters, 0, 'a timed-out waiter is no longer counted');
  t.match(await ask(child, 'release'), { ok: true });
  t.equal(m.acquireSync({ timeout: 50 }), true, 'acquires once released');
  m.release();
  await finish(t, child);
});

t.test('release by a non-owner or of an unlocked lock throws SHMSYNC_NOT_OWNER', async (t) => {
  const m = mutexFor(t, 'notowner');
  t.throws(() => m.release(), { name: 'NotOwnerError', code: 'SHMSYNC_NOT_OWNER' }, 'unlocked');
  t.throws(() => m.markConsistent(), { code: 'SHMSYNC_NOT_OWNER' }, 'markConsistent while unlocked');
  const child = await agent(t, m.name);
  t.match(await ask(child, 'acquireSync'), { ok: true });
  t.throws(() => m.release(), { code: 'SHMSYNC_NOT_OWNER' }, 'held by another process');
  t.equal(m.info().holder?.pid, child.proc.pid, 'the failed release did not free it');
  t.match(await ask(child, 'release'), { ok: true });
  t.match(await ask(child, 'release'), { error: { code: 'SHMSYNC_NOT_OWNER' } }, 'child: one release too many');
  const guard = await m.acquire();
  t.throws(
    () => m.release(),
    { code: 'SHMSYNC_NOT_OWNER', message: /another async context/ },
    'the thread does not own a hold taken by a bare acquire()',
  );
  t.equal(guard.release(), true);
  t.equal(guard.release(), false, 'a second guard release is ignored');
  t.equal(m.info().locked, false);
  await finish(t, child);
});

t.test('bad arguments throw coded TypeError/RangeError and touch nothing', async (t) => {
  type Expected = { name: string; code: string; message?: string | RegExp };
  const m = mutexFor(t, 'args');
  const range = { name: 'RangeError', code: 'SHMSYNC_OUT_OF_RANGE' };
  const type = { name: 'TypeError', code: 'SHMSYNC_INVALID_ARG_TYPE' };
  const value = { name: 'TypeError', code: 'SHMSYNC_INVALID_ARG_VALUE' };
  const sync: Array<[string, () => unknown, Expected]> = [
    [
      'negative timeout',
      () => m.acquireSync({ timeout: -1 }),
      { ...range, message: 'options.timeout must be a number >= 0. Received type number (-1)' },
    ],
    ['NaN timeout', () => m.acquireSync({ timeout: NaN }), range],
    ['-Infinity timeout', () => m.acquireSync({ timeout: -Infinity }), range],
    ['string timeout', () => loose(m).acquireSync({ timeout: '10' }), type],
    ['non-boolean blocking', () => loose(m).acquireSync({ blocking: 1 }), type],
    ['options that are a number', () => loose(m).acquireSync(5), type],
    ['null options', () => loose(m).acquireSync(null), type],
    ['misspelled option', () => loose(m).acquireSync({ block: false }), { ...value, message: /spelled 'blocking'/ }],
    ['unknown option', () => loose(m).acquireSync({ wait: 1 }), value],
    ['withLockSync without a function', () => loose(m).withLockSync(42), type],
    ['a number as name', () => new AnyMutex(42), type],
    ['unknown onOwnerDeath', () => new AnyMutex(testName('x'), { onOwnerDeath: 'ignore' }), value],
    [
      'misspelled policy option',
      () => new AnyMutex(testName('x'), { policy: 'strict' }),
      { ...value, message: /spelled 'onOwnerDeath'/ },
    ],
    ['non-integer mode', () => new AnyMutex(testName('x'), { mode: 'rw' }), type],
    ['out-of-range mode', () => new AnyMutex(testName('x'), { mode: 0o1000 }), range],
  ];
  for (const [what, fn, expected] of sync) t.throws(fn, expected, what);
  const promised: Array<[string, () => Promise<unknown>, Expected]> = [
    ['acquire: negative timeout', () => m.acquire({ timeout: -5 }), range],
    ['acquire: NaN timeout', () => m.acquire({ timeout: NaN }), range],
    [
      'acquire: signal that is not an AbortSignal',
      () => loose(m).acquire({ signal: 'stop' }) as Promise<unknown>,
      type,
    ],
    ['acquire: unknown option', () => loose(m).acquire({ timeot: 5 }) as Promise<unknown>, value],
    ['withLock without a function', () => loose(m).withLock('fn') as Promise<unknown>, type],
  ];
  for (const [what, fn, expected] of promised) await t.rejects(fn, expected, what);
  t.equal(m.info().locked, false, 'no bad call left the lock held');
  t.equal(m.info().acquisitions, 0n, 'and none acquired it');
});

t.test('close twice is harmless and every use after close throws SHMSYNC_CLOSED', async (t) => {
  const m = mutexFor(t, 'close');
  const other = new Mutex(m.name);
  t.teardown(() => other.close());
  m.close();
  m.close();
  t.equal(m.closed, true);
  const closed = { name: 'ClosedError', code: 'SHMSYNC_CLOSED' };
  t.throws(() => m.acquireSync(), closed, 'acquireSync');
  t.throws(() => m.tryAcquire(), closed, 'tryAcquire');
  t.throws(() => m.release(), closed, 'release');
  t.throws(() => m.info(), closed, 'info');
  t.throws(() => m.markConsistent(), closed, 'markConsistent');
  t.throws(() => m.isHeld, closed, 'isHeld');
  await t.rejects(m.acquire(), closed, 'acquire');
  await t.rejects(
    m.withLock(() => 1),
    closed,
    'withLock',
  );
  t.equal(other.tryAcquire(), true, 'another handle of the same name still works');
  other.close();
  const reopened = new Mutex(m.name);
  t.equal(reopened.info().locked, false, 'closing the last handle released its hold');
  reopened.close();
});

t.test('closing the last handle rejects its pending acquires with SHMSYNC_CLOSED and frees its hold', async (t) => {
  const m = mutexFor(t, 'close-wait');
  m.acquireSync();
  const pending = m.acquire(); // queued behind this thread's own hold
  m.close();
  await t.rejects(pending, { name: 'ClosedError', code: 'SHMSYNC_CLOSED' });
  const again = new Mutex(m.name);
  t.match(again.info(), { locked: false, waiters: 0 });
  again.close();
});

t.test('a toJSON reference is revived in a child and names the same (unnamed) mutex', async (t) => {
  const m = new Mutex();
  t.teardown(() => {
    m.close();
    Mutex.unlink(m.name);
  });
  const ref = JSON.parse(JSON.stringify(m));
  t.same(ref, { $shmsync: 'Mutex', name: m.name });
  const local = reviveHandle<Mutex>(ref);
  t.equal(local.name, m.name);
  local.close();
  const child = await agent(t, JSON.stringify(m));
  t.equal(m.acquireSync(), true);
  t.match(await ask(child, 'tryAcquire'), { ok: false }, 'the revived handle sees the parent hold');
  m.release();
  t.match(await ask(child, 'acquireSync'), { ok: true });
  t.equal(m.info().holder?.pid, child.proc.pid);
  t.match(await ask(child, 'release'), { ok: true });
  await finish(t, child);
});

t.test('info() reports holder, depth, waiters, acquisitions and policy', async (t) => {
  const m = mutexFor(t, 'info');
  t.same(m.info(), {
    name: m.name,
    locked: false,
    holder: null,
    depth: 0,
    waiters: 0,
    acquisitions: 0n,
    ownerDeaths: 0,
    onOwnerDeath: 'recover',
    recoverable: true,
  });
  m.acquireSync();
  m.acquireSync();
  t.match(m.info(), {
    locked: true,
    holder: { pid: process.pid, threadId: 0, alive: true },
    depth: 2,
    acquisitions: 1n,
  });
  const child = await agent(t, m.name);
  const reply = ask(child, 'acquireSync');
  await until(() => m.info().waiters === 1, 'the blocked child is counted as a waiter');
  m.release();
  m.release();
  t.match(await reply, { ok: true });
  t.match(m.info(), {
    locked: true,
    holder: { pid: child.proc.pid, threadId: 0, alive: true },
    depth: 1,
    waiters: 0,
    acquisitions: 2n,
  });
  t.match(await ask(child, 'release'), { ok: true });
  await finish(t, child);
});

t.test('guard.fence grows on every fresh acquisition, across processes, and not on re-entry', async (t) => {
  const m = mutexFor(t, 'fence');
  const first = await m.acquire();
  t.equal(first.fence, 1n);
  first.release();
  await m.withLock(async () => {
    const a = await m.acquire();
    const b = await m.acquire();
    t.ok(a.reentrant && b.reentrant, 'acquires inside withLock are reentrant');
    t.equal(a.fence, 2n, 'withLock was the second fresh acquisition');
    t.equal(b.fence, a.fence, 'a reentrant guard keeps the fence');
    b.release();
    a.release();
  });
  const child = await agent(t, m.name);
  const remote = await ask(child, 'acquire');
  t.equal(remote.fence, 3n, 'the child acquisition got the next fence');
  t.match(await ask(child, 'release'), { ok: true });
  m.acquireSync();
  t.equal(m.info().acquisitions, 4n, 'acquireSync counts as a fresh acquisition');
  m.release();
  const last = await m.acquire();
  t.equal(last.fence, 5n);
  last.release();
  await finish(t, child);
});

t.test('guards release and handles close on Symbol.dispose (using)', async (t) => {
  const name = mutexFor(t, 'dispose').name;
  let handle: Mutex;
  {
    using m = new Mutex(name);
    handle = m;
    {
      using guard = await m.acquire();
      t.equal(m.info().locked, true);
      t.equal(guard.released, false);
    }
    t.equal(m.info().locked, false, 'using released the guard');
    {
      await using guard = await m.acquire();
      t.equal(guard.fence, 2n);
    }
    t.equal(m.info().locked, false, 'await using released the guard');
  }
  t.equal(handle.closed, true, 'using closed the handle');
});

t.test('opening with a different onOwnerDeath policy throws SHMSYNC_POLICY_MISMATCH', async (t) => {
  const strict = mutexFor(t, 'policy', { onOwnerDeath: 'strict' });
  t.equal(strict.onOwnerDeath, 'strict');
  const mismatch = { name: 'PolicyMismatchError', code: 'SHMSYNC_POLICY_MISMATCH' };
  t.throws(() => new Mutex(strict.name, { onOwnerDeath: 'recover' }), mismatch, 'in this process');
  const plain = new Mutex(strict.name);
  t.equal(plain.onOwnerDeath, 'strict', 'without the option the existing policy applies');
  plain.close();
  const child = new Child('mutex-agent.js', [strict.name, 'recover']);
  t.teardown(() => child.kill());
  t.match(await child.message('ready'), { error: { code: 'SHMSYNC_POLICY_MISMATCH' } }, 'in another process');
  t.same(await child.exited, { code: 0, signal: null });
  t.equal(segmentExists(strict.name), true, 'the failed open did not remove the segment');
});
