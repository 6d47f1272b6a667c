import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { gcSegments, LockManager, RwLock } from '../dist';
import { Child, fixturesDir } from './helpers/fork';
import { testName } from './helpers/shm';

interface Reply {
  type: string;
  ok?: boolean;
  mode?: string;
  error?: { name?: string; code?: string };
  clientId?: string;
  [key: string]: unknown;
}

/** A namespace of its own per test: nothing else lists or meets its locks. */
function managerFor(t: Test): { ns: string; locks: LockManager } {
  const ns = testName('ns')
    .slice(0, 60)
    .replace(/[^A-Za-z0-9_.-]/g, '_');
  const locks = new LockManager({ namespace: ns });
  t.teardown(() => {
    // Lock segments a SIGKILLed process was attached to outlive its death until a sweep finds
    // no live user (as for every attached segment): close ours, then sweep.
    locks.trim();
    gcSegments();
  });
  return { ns, locks };
}

async function agent(t: Test, ns: string): Promise<Child & { clientId: string }> {
  const rwName = testName('wl-agent-rw');
  const child = new Child('rwlock-agent.js', [rwName, ns]);
  const ready = await child.message<Reply>('ready');
  t.teardown(() => {
    child.kill();
    RwLock.unlink(rwName);
  });
  return Object.assign(child, { clientId: ready.clientId! });
}

async function ask(child: Child, type: string): Promise<Reply> {
  child.send({ type });
  return child.message<Reply>(type);
}

async function request(child: Child, name: string, options: object = {}): Promise<Reply> {
  child.send({ type: 'request', name, options });
  return child.message<Reply>('request');
}

t.test('query() from a third process lists holders and waiters of other processes and threads', async (t) => {
  const { ns, locks } = managerFor(t);
  const a = await agent(t, ns);
  const b = await agent(t, ns);
  t.match(await request(a, 'res'), { ok: true, mode: 'exclusive' }, 'process A holds res');
  b.send({ type: 'request', name: 'res', options: { mode: 'shared' } });
  await b.message('requested');
  const wName = testName('wl-w');
  const w = new Worker(path.join(fixturesDir, 'rwlock-agent.js'), { argv: [wName, ns], execArgv: [] });
  t.teardown(async () => {
    await w.terminate();
    RwLock.unlink(wName);
  });
  const [ready] = (await once(w, 'message')) as [Reply];
  w.postMessage({ type: 'request', name: 'other', options: { mode: 'shared' } });
  for (;;) {
    const [m] = (await once(w, 'message')) as [Reply];
    if (m.type === 'request') break;
  }
  let snap = await locks.query();
  while (snap.pending.length === 0) snap = await locks.query(); // B's request reaches the table
  t.same(
    snap.held.sort((x, y) => x.name.localeCompare(y.name)),
    [
      { name: 'other', mode: 'shared', clientId: ready.clientId },
      { name: 'res', mode: 'exclusive', clientId: a.clientId },
    ],
    'held: A (exclusive) and the worker thread (shared)',
  );
  t.same(snap.pending, [{ name: 'res', mode: 'shared', clientId: b.clientId }], 'pending: B');
  t.not(ready.clientId, locks.clientId, 'a worker thread is its own client');
  a.send({ type: 'settle' });
  t.match(await b.message<Reply>('request'), { ok: true, mode: 'shared' }, 'B granted after A settled');
  t.match(await a.message<Reply>('outcome'), { ok: true });
  b.send({ type: 'settle' });
  await b.message('outcome');
  w.postMessage({ type: 'settle' });
  snap = await locks.query();
  while (snap.held.length !== 0) snap = await locks.query();
  t.same(snap, { held: [], pending: [] }, 'empty once everyone settled');
});

for (const mode of ['shared', 'exclusive'] as const) {
  t.test(`a SIGKILLed process holding a ${mode} lock releases it`, async (t) => {
    const { ns, locks } = managerFor(t);
    const victim = await agent(t, ns);
    t.match(await request(victim, 'k', { mode }), { ok: true, mode });
    const other = mode === 'shared' ? 'exclusive' : 'shared';
    t.equal(await locks.request('k', { mode: other, ifAvailable: true }, (l) => l), null, 'not available while held');
    let granted = false;
    const mine = locks.request('k', { mode: other }, (l) => {
      granted = true;
      return l!.mode;
    });
    let snap = await locks.query();
    while (snap.pending.length === 0) snap = await locks.query();
    t.equal(granted, false);
    victim.kill('SIGKILL');
    t.same(await victim.exited, { code: null, signal: 'SIGKILL' });
    t.equal(await mine, other, 'granted once the holder died');
    t.same(await locks.query(), { held: [], pending: [] });
  });
}

t.test("steal across processes: the previous holder's request rejects with AbortError", async (t) => {
  const { ns, locks } = managerFor(t);
  const a = await agent(t, ns);
  const b = await agent(t, ns);
  t.match(await request(a, 's'), { ok: true });
  b.send({ type: 'request', name: 's', options: { mode: 'shared' } });
  await b.message('requested');
  let snap = await locks.query();
  while (snap.pending.length === 0) snap = await locks.query();
  const seen = await locks.request('s', { steal: true }, async (l) => {
    t.equal(l!.mode, 'exclusive');
    const outcome = await a.message<Reply>('outcome');
    t.match(outcome, { ok: false, error: { name: 'AbortError' } }, 'A learns at once, while its callback still runs');
    t.match(
      await ask(a, 'lockState'),
      { stolen: true, aborted: true, reason: 'AbortError' },
      "A's lock object reports it",
    );
    return locks.query();
  });
  t.same(
    seen.held,
    [{ name: 's', mode: 'exclusive', clientId: locks.clientId }],
    'only the thief holds during its callback',
  );
  t.same(seen.pending, [{ name: 's', mode: 'shared', clientId: b.clientId }], 'the queued request stays queued');
  t.match(await b.message<Reply>('request'), { ok: true, mode: 'shared' }, 'the queue resumes after the steal');
  a.send({ type: 'settle' }); // A's callback ends; its stolen hold is gone already
  await a.message('settle');
  b.send({ type: 'settle' });
  t.match(await b.message<Reply>('outcome'), { ok: true });
  snap = await locks.query();
  while (snap.held.length !== 0) snap = await locks.query();
  t.same(snap, { held: [], pending: [] });
});

t.test('an AbortSignal withdraws a request queued behind another process', async (t) => {
  const { ns, locks } = managerFor(t);
  const a = await agent(t, ns);
  t.match(await request(a, 'sig'), { ok: true });
  const ac = new AbortController();
  const p = locks.request('sig', { signal: ac.signal }, () => 'never');
  let snap = await locks.query();
  while (snap.pending.length === 0) snap = await locks.query();
  ac.abort();
  await t.rejects(p, { name: 'AbortError' });
  t.same((await locks.query()).pending, [], 'withdrawn from the shared queue');
  a.send({ type: 'settle' });
  await a.message('outcome');
});

t.test('namespaces do not meet', async (t) => {
  const one = managerFor(t).locks;
  const two = managerFor(t).locks;
  await one.request('same', async () => {
    t.equal(await two.request('same', { ifAvailable: true }, (l) => l !== null), true, 'another namespace: free');
    t.equal((await two.query()).held.length, 0);
  });
  t.throws(() => new LockManager({ namespace: 'a/b' }), { name: 'TypeError' });
});

t.test('a held lock whose callback never settles does not keep the process alive (as navigator.locks)', async (t) => {
  const { ns } = managerFor(t);
  const dist = path.join(__dirname, '..', 'dist');
  // The callback outlives several event-loop turns (its steal watch is armed), then nothing is
  // left to do: the process must end on its own (before the fix it never did).
  const script = `
    const { LockManager } = require(${JSON.stringify(dist)});
    const locks = new LockManager({ namespace: ${JSON.stringify(ns)} });
    locks.request('forever', () => new Promise((resolve) => setTimeout(() => {}, 5) && undefined));
    process.on('exit', () => process.stdout.write('exited'));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000, env: process.env });
  t.equal(r.signal, null, 'not killed by the 60 s guard');
  t.equal(r.status, 0);
  t.equal(r.stdout, 'exited');
});

t.test('a stolen lock reports it: lock.stolen and lock.signal (extensions), in the same process too', async (t) => {
  const { locks } = managerFor(t);
  const held: { lock: { stolen: boolean; signal: AbortSignal } | null } = { lock: null };
  const aborted = new Promise<unknown>((resolve) => {
    void locks
      .request('own', (lock) => {
        held.lock = lock;
        lock!.signal.addEventListener('abort', () => resolve(lock!.signal.reason));
        return new Promise(() => {});
      })
      .catch(() => {});
  });
  while (held.lock === null) await new Promise(setImmediate);
  const first = held.lock;
  t.equal(first.stolen, false);
  t.equal(first.signal.aborted, false);
  await locks.request('own', { steal: true }, () => {});
  t.match(await aborted, { name: 'AbortError' }, 'the signal aborted with an AbortError');
  t.equal(first.stolen, true);
});
