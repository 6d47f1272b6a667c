import t, { type Test } from 'tap';
import { once } from 'node:events';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { RwLock, SharedMemory } from '../dist';
import { Child, fixturesDir, forkReady } from './helpers/fork';
import { testName } from './helpers/shm';

interface Reply {
  type: string;
  ok?: boolean;
  ownerDied?: boolean;
  error?: { code?: string; name?: string };
  [key: string]: unknown;
}

function rwFor(t: Test, tag: string): RwLock {
  const rw = new RwLock(testName(tag), { create: 'create' });
  t.teardown(() => {
    rw.close();
    RwLock.unlink(rw.name);
  });
  return rw;
}

async function ask(child: Child, type: string, extra: object = {}): Promise<Reply> {
  child.send({ type, ...extra });
  return child.message<Reply>(type);
}

async function agent(t: Test, rw: RwLock): Promise<Child> {
  const child = await forkReady('rwlock-agent.js', [rw.name]);
  t.teardown(() => child.kill());
  return child;
}

type Intervals = [string, string, string][];

/** One participant of the oracle: a forked process or a worker thread of this process. */
interface Participant {
  ready: Promise<unknown>;
  go(): void;
  done: Promise<Intervals>;
  exited: Promise<unknown>;
}

function processParticipant(t: Test, args: string[]): Participant {
  const k = new Child('rwlock-intervals.js', args);
  t.teardown(() => k.kill());
  return {
    ready: k.message('ready'),
    go: () => k.send({ type: 'go' }),
    done: k.message<{ type: string; intervals: Intervals }>('done').then((m) => m.intervals),
    exited: k.exited.then((e) => t.same(e, { code: 0, signal: null }, 'worker process exited cleanly')),
  };
}

function threadParticipant(t: Test, args: string[]): Participant {
  const w = new Worker(path.join(fixturesDir, 'rwlock-intervals.js'), { argv: args, execArgv: [] });
  t.teardown(() => w.terminate());
  const messages: { type: string; intervals?: Intervals }[] = [];
  const waiters: ((m: { type: string; intervals?: Intervals }) => void)[] = [];
  w.on('message', (m: { type: string; intervals?: Intervals }) => {
    const next = waiters.shift();
    if (next) next(m);
    else messages.push(m);
  });
  const message = (): Promise<{ type: string; intervals?: Intervals }> =>
    messages.length > 0 ? Promise.resolve(messages.shift()!) : new Promise((r) => waiters.push(r));
  const ready = message();
  return {
    ready,
    go: () => w.postMessage({ type: 'go' }),
    done: ready.then(() => message()).then((m) => m.intervals!),
    exited: once(w, 'exit').then(([code]) => t.equal(code, 0, 'worker thread exited cleanly')),
  };
}

async function oracle(t: Test, tag: string, kinds: ('process' | 'thread')[]): Promise<void> {
  const rw = rwFor(t, tag);
  const mem = new SharedMemory(testName(`${tag}-mem`), { size: 64, create: 'create' });
  t.teardown(() => {
    mem.close();
    mem.unlink();
  });
  const iters = 150;
  const parts = kinds.map((kind, i) =>
    (kind === 'process' ? processParticipant : threadParticipant)(t, [rw.name, mem.name, String(i), String(iters)]),
  );
  await Promise.all(parts.map((p) => p.ready));
  for (const p of parts) p.go();
  const results = await Promise.all(parts.map((p) => p.done));
  await Promise.all(parts.map((p) => p.exited));
  const c = new Int32Array(mem.buffer.buffer, mem.buffer.byteOffset, 4);
  t.equal(Atomics.load(c, 2), 0, 'no holder ever saw a conflicting one inside');
  t.ok(Atomics.load(c, 3) >= 2, `shared holders were inside together (max ${Atomics.load(c, 3)})`);
  // The recorded intervals, from all participants: an exclusive one overlaps nothing.
  const all = results.flatMap((r, p) => r.map(([s, e, m]) => ({ s: BigInt(s), e: BigInt(e), m, p })));
  all.sort((a, b) => (a.s < b.s ? -1 : a.s > b.s ? 1 : 0));
  let bad = 0;
  let sharedOverlaps = 0;
  for (let i = 0; i < all.length; i++) {
    for (let j = i + 1; j < all.length && all[j].s < all[i].e; j++) {
      if (all[i].m === 'x' || all[j].m === 'x') bad++;
      else if (all[i].p !== all[j].p) sharedOverlaps++;
    }
  }
  t.equal(all.length, kinds.length * iters, 'every hold recorded');
  t.equal(bad, 0, 'no exclusive interval overlaps another interval');
  t.ok(sharedOverlaps > 0, `shared intervals of different participants overlap (${sharedOverlaps} pairs)`);
}

t.test('interval oracle over 4 processes: shared holds overlap, exclusive ones never do', (t) =>
  oracle(t, 'rw-oracle', ['process', 'process', 'process', 'process']),
);

t.test('interval oracle over 2 processes and 2 worker threads of this process', (t) =>
  oracle(t, 'rw-oracle-mixed', ['process', 'thread', 'process', 'thread']),
);

for (const victimMode of ['shared', 'exclusive'] as const) {
  t.test(`a SIGKILLed ${victimMode} holder's hold is reclaimed by the next grant`, async (t) => {
    const rw = rwFor(t, `rw-kill-${victimMode}`);
    const victim = await agent(t, rw);
    const cmd = victimMode === 'shared' ? 'acquireSharedSync' : 'acquireExclusiveSync';
    t.match(await ask(victim, cmd), { ok: true }, 'victim holds');
    t.equal(rw.info().holders[0].pid, victim.proc.pid, 'the table names the victim');
    // A waiter in the conflicting mode: a Promise one here, a blocking one in another process.
    const waiterMode = victimMode === 'shared' ? 'exclusive' : 'shared';
    const blocked = await agent(t, rw);
    blocked.send({ type: waiterMode === 'shared' ? 'acquireSharedSync' : 'acquireExclusiveSync' });
    while (rw.info().waiting.length < 1) await new Promise(setImmediate);
    const mine = waiterMode === 'shared' ? rw.acquireShared() : rw.acquireExclusive();
    victim.kill('SIGKILL');
    t.same(await victim.exited, { code: null, signal: 'SIGKILL' });
    const first = await blocked.message<Reply>(waiterMode === 'shared' ? 'acquireSharedSync' : 'acquireExclusiveSync');
    t.match(
      first,
      { ok: true, ownerDied: true },
      'the blocked waiter in the other process was granted, told of the death',
    );
    if (waiterMode === 'exclusive') {
      t.match(await ask(blocked, 'release'), { ok: true });
      const g = await mine;
      t.equal(g.ownerDied, false, 'the death is reported once');
      g.release();
    } else {
      const g = await mine;
      t.equal(rw.info().holders.length, 2, 'both shared waiters hold together');
      g.release();
      t.match(await ask(blocked, 'release'), { ok: true });
    }
    t.equal(rw.info().ownerDeaths, 1);
    t.ok(rw.tryAcquireExclusive(), 'the lock is free and usable');
    rw.release();
    blocked.send({ type: 'exit' });
    t.same(await blocked.exited, { code: 0, signal: null });
  });
}

t.test('a SIGKILLed process with a queued request does not block the queue', async (t) => {
  const rw = rwFor(t, 'rw-kill-waiter');
  const g = await rw.acquireShared();
  const waiter = await agent(t, rw);
  waiter.send({ type: 'acquireExclusiveSync' });
  while (rw.info().waiting.length < 1) await new Promise(setImmediate);
  t.ok(!rw.tryAcquireShared(), 'queued behind the waiting exclusive request');
  waiter.kill('SIGKILL');
  await waiter.exited;
  t.ok(rw.tryAcquireShared(), 'the dead request is swept: shared passes again');
  rw.release();
  g.release();
  t.equal(rw.info().ownerDeaths, 0, 'a dead waiter is not an owner death');
});
