/**
 * Attack review of issue 13 (RwLock, LockManager): each test reproduces one finding of the
 * review and proves its fix. Real processes, real SIGKILL; handshakes, no sleeps.
 */
import t, { type Test } from 'tap';
import * as fs from 'node:fs';
import { gcSegments, LockManager, RwLock } from '../dist';
import { Child, forkReady } from './helpers/fork';
import { testName } from './helpers/shm';

interface Reply {
  type: string;
  ok?: boolean;
  error?: { name?: string; code?: string };
  [key: string]: unknown;
}

/** A namespace of its own per test: nothing else lists or meets its locks. */
function managerFor(t: Test): { ns: string; locks: LockManager } {
  const ns = testName('ns')
    .slice(0, 60)
    .replace(/[^A-Za-z0-9_.-]/g, '_');
  const locks = new LockManager({ namespace: ns });
  t.teardown(() => {
    locks.trim();
    gcSegments();
  });
  return { ns, locks };
}

async function wlAgent(t: Test, ns: string): Promise<Child> {
  const rwName = testName('wl-agent-rw');
  const child = await forkReady('rwlock-agent.js', [rwName, ns]);
  t.teardown(() => {
    child.kill();
    RwLock.unlink(rwName);
  });
  return child;
}

function rwFor(t: Test, tag: string): RwLock {
  const rw = new RwLock(testName(tag), { create: 'create' });
  t.teardown(() => {
    rw.close();
    RwLock.unlink(rw.name);
  });
  return rw;
}

async function agent(t: Test, rw: RwLock): Promise<Child> {
  const child = await forkReady('rwlock-agent.js', [rw.name]);
  t.teardown(() => child.kill());
  return child;
}

t.test('a Promise waiter queued behind a SIGKILLed queued request is granted without any other event', async (t) => {
  const rw = rwFor(t, 'rw-atk-dead-ahead');
  const held = await rw.acquireShared(); // a live shared holder that stays (this process)
  const waiter = await agent(t, rw);
  waiter.send({ type: 'acquireExclusive' }); // queued behind our shared hold
  while (rw.info().waiting.length < 1) await new Promise(setImmediate);
  const mine = rw.acquireShared({ timeout: 5000 }); // queued behind the exclusive request
  await new Promise(setImmediate);
  t.equal(rw.info().waiting.length, 2, 'our shared request waits behind the exclusive one');
  waiter.kill('SIGKILL');
  await waiter.exited;
  // Nothing else happens: no release, no other request. The dead request must stop blocking us.
  const g = await mine.catch((err: Error & { code?: string }) => err);
  t.ok(!(g instanceof Error), `granted (${g instanceof Error ? g.code : 'ok'})`);
  if (!(g instanceof Error)) g.release();
  held.release();
});

// Bounded by tap's timeout: before the fix, the holder never learned and the thief waited forever.
t.test(
  'a steal wakes the holder of another process that nothing else wakes (its entry watch)',
  { timeout: 20000 },
  async (t) => {
    const { ns, locks } = managerFor(t);
    const a = await wlAgent(t, ns);
    a.send({ type: 'request', name: 'lone', options: {} });
    t.match(await a.message<Reply>('request'), { ok: true });
    // Let A arm its steal watch (armed after one turn of its event loop): ask it something.
    a.send({ type: 'lockState' });
    await a.message('lockState');
    // No queued request anywhere: the steal is the only change A could notice.
    await locks.request('lone', { steal: true }, async () => {
      const outcome = await a.message<Reply>('outcome');
      t.match(outcome, { ok: false, error: { name: 'AbortError' } }, "A's request rejects while the thief holds");
    });
    a.send({ type: 'settle' });
    await a.message('settle');
  },
);

t.test(
  'a rewritten guard reports SHMSYNC_CORRUPT (RwLock) and a coded error (LockManager), never a crash',
  async (t) => {
    const rw = rwFor(t, 'rw-atk-guard');
    t.ok(rw.tryAcquireExclusive());
    rw.release();
    // The guard's consistency word (segment header 64 + MutexState.consistency 8) := NotRecoverable.
    const fd = fs.openSync(`/dev/shm/shmsync-${rw.name}`, 'r+');
    const word = Buffer.alloc(4);
    word.writeUInt32LE(2);
    fs.writeSync(fd, word, 0, 4, 64 + 8);
    fs.closeSync(fd);
    t.throws(() => rw.tryAcquireShared(), { code: 'SHMSYNC_CORRUPT' }, 'sync acquire');
    await t.rejects(rw.acquireExclusive(), { code: 'SHMSYNC_CORRUPT' }, 'Promise acquire');
    t.throws(() => rw.info(), { code: 'SHMSYNC_CORRUPT' }, 'info()');

    const { ns, locks } = managerFor(t);
    await locks.request('g', () => undefined); // creates the lock's segment (kept idle by the manager)
    const prefix = `shmsync-weblocks-${process.geteuid!()}-${ns}-`;
    const seg = fs.readdirSync('/dev/shm').find((f) => f.startsWith(prefix));
    t.ok(seg !== undefined, 'the lock segment exists');
    const fd2 = fs.openSync(`/dev/shm/${seg}`, 'r+');
    fs.writeSync(fd2, word, 0, 4, 64 + 8);
    fs.closeSync(fd2);
    await t.rejects(
      locks.request('g', () => 'never'),
      { code: 'SHMSYNC_CORRUPT' },
      'request() rejects with the coded error',
    );
    await t.resolves(locks.query(), 'query() skips the corrupt lock instead of failing');
  },
);
