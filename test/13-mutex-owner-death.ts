import t, { type Test } from 'tap';
import { once } from 'node:events';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Mutex, MutexGuard, type MutexOptions } from '../dist';
import { Child, fixturesDir, forkReady } from './helpers/fork';
import { testName } from './helpers/shm';
import { rounds as scaledRounds } from './helpers/scale';

interface Reply {
  [key: string]: unknown;
  type: string;
  ok?: boolean;
  ownerDied?: boolean;
  at?: bigint;
  error?: { code: string };
}
type Err = Error & { code?: string; guard?: MutexGuard | null };

function mutexFor(t: Test, tag: string, options: MutexOptions = {}): Mutex {
  const m = new Mutex(testName(tag), { create: 'create', ...options });
  t.teardown(() => {
    m.close();
    Mutex.unlink(m.name);
  });
  return m;
}

async function ask(agent: Child | Worker, type: string, options?: object): Promise<Reply> {
  if (agent instanceof Child) {
    agent.send({ type, options });
    return agent.message<Reply>(type);
  }
  agent.postMessage({ type, options });
  for (;;) {
    // the agent answers one command at a time; skip 'acquire-called'
    const [m] = (await once(agent, 'message')) as [Reply];
    if (m.type === type) return m;
  }
}

/** The agent fixture as a worker thread of this process. */
async function workerAgent(t: Test, m: Mutex): Promise<Worker> {
  const w = new Worker(path.join(fixturesDir, 'mutex-agent.js'), { argv: [m.name], execArgv: [] });
  t.teardown(() => w.terminate());
  await once(w, 'message'); // ready
  return w;
}

/** Forks a holder: a child that acquires `m` and keeps it until it is killed. */
async function holder(t: Test, m: Mutex): Promise<Child> {
  const child = await forkReady('mutex-agent.js', [m.name]);
  t.teardown(() => child.kill());
  t.match(await ask(child, 'acquireSync'), { ok: true }, `holder ${child.proc.pid} holds the lock`);
  return child;
}

/** SIGKILLs the holder; returns the kill time and a promise of its (asserted) exit. */
function kill(t: Test, child: Child): { at: bigint; gone: Promise<void> } {
  const at = process.hrtime.bigint();
  child.kill('SIGKILL');
  const gone = child.exited.then((exit) => {
    t.same(exit, { code: null, signal: 'SIGKILL' }, 'the holder died of SIGKILL');
  });
  return { at, gone };
}

const ms = (from: bigint, to: bigint): number => Number(to - from) / 1e6;
const latencies: Record<string, number[]> = { promise: [], blocking: [] };

t.test('recover policy: every acquire flavour gets the lock from a SIGKILLed holder with ownerDied', async (t) => {
  const m = mutexFor(t, 'recover');
  let events = 0;
  m.on('ownerDied', () => {
    events += 1;
  });
  // Promise acquire, waiting before the kill.
  let h = await holder(t, m);
  const waiting = m.acquire();
  let k = kill(t, h);
  const g = await waiting;
  latencies.promise.push(ms(k.at, process.hrtime.bigint()));
  await k.gone;
  t.equal(g.ownerDied, true, 'Promise acquire: guard.ownerDied');
  t.match(m.info(), { ownerDeaths: 1, holder: { pid: process.pid } });
  g.release();
  // withLock, waiting before the kill.
  h = await holder(t, m);
  const inside = m.withLock(async () => {
    const nested = await m.acquire();
    nested.release();
    return [m.ownerDied, nested.reentrant, nested.ownerDied];
  });
  k = kill(t, h);
  t.same(await inside, [true, true, false], 'withLock: mutex.ownerDied inside fn; a re-entry is not flagged again');
  await k.gone;
  // tryAcquire after the kill.
  h = await holder(t, m);
  t.equal(m.tryAcquire(), false);
  k = kill(t, h);
  await k.gone;
  t.equal(m.tryAcquire(), true, 'tryAcquire after the kill');
  t.equal(m.ownerDied, true, 'tryAcquire: mutex.ownerDied');
  m.release();
  // Blocking and timed acquireSync, waiting before the kill (in a worker: this thread must run the kill).
  const w = await workerAgent(t, m);
  for (const options of [undefined, { timeout: 30_000 }]) {
    h = await holder(t, m);
    const reply = ask(w, 'acquireSync', options);
    await until(() => m.info().waiters === 1, 'the worker blocks');
    k = kill(t, h);
    t.match(await reply, { ok: true, ownerDied: true }, `acquireSync(${JSON.stringify(options ?? {})}) in a worker`);
    latencies.blocking.push(ms(k.at, (await reply).at!));
    await k.gone;
    t.match(await ask(w, 'release'), { ok: true });
  }
  t.equal(m.info().ownerDeaths, 5, 'info().ownerDeaths counts every death');
  t.equal(events, 3, "'ownerDied' fired once per recovery made by this thread's handle");
  t.match(await ask(w, 'info'), { events: 2 }, "and once per recovery in the worker's handle");
  t.equal(m.tryAcquire(), true);
  t.equal(m.ownerDied, false, 'the next clean acquisition is not flagged');
  m.release();
});

t.test("'ownerDied' is emitted on the open handles of the mutex, never on closed ones", async (t) => {
  const m = mutexFor(t, 'events');
  const second = new Mutex(m.name);
  const closed = new Mutex(m.name);
  closed.close();
  const heard: string[] = [];
  m.on('ownerDied', (e: { name: string }) => heard.push(`first ${e.name === m.name}`));
  second.on('ownerDied', () => heard.push('second'));
  closed.on('ownerDied', () => heard.push('closed'));
  await kill(t, await holder(t, m)).gone;
  t.equal(second.tryAcquire(), true);
  t.equal(m.ownerDied, true, 'both handles share the recovered hold');
  t.same(heard.sort(), ['first true', 'second'], 'each open handle heard of it once, the closed one did not');
  second.release();
  second.close();
});

t.test(
  'recover policy: a worker terminate()d or a process exiting while holding is recovered like a kill',
  async (t) => {
    const m = mutexFor(t, 'terminate');
    for (const flavour of ['acquire waiting before', 'tryAcquire after']) {
      const w = await workerAgent(t, m);
      t.match(await ask(w, 'acquireSync'), { ok: true });
      t.match(m.info(), { holder: { pid: process.pid, threadId: w.threadId } });
      const waiting = flavour.startsWith('acquire') ? m.acquire() : null;
      t.equal(await w.terminate(), 1, 'terminate() ends the worker (exit code 1)');
      if (waiting !== null) {
        const g = await waiting;
        t.equal(g.ownerDied, true, `${flavour}: ownerDied`);
        g.release();
      } else {
        t.equal(m.tryAcquire(), true);
        t.equal(m.ownerDied, true, `${flavour}: ownerDied`);
        m.release();
      }
    }
    const leaver = await holder(t, m);
    leaver.send({ type: 'crash' });
    t.same(await leaver.exited, { code: 3, signal: null }, 'a holder leaves with process.exit(3), holding');
    t.equal(m.tryAcquire(), true);
    t.equal(m.ownerDied, true, 'exiting without releasing is an owner death too');
    m.release();
    t.equal(m.info().ownerDeaths, 3);
  },
);

t.test('a waiter that claimed the hand-off before recovering does not lock out later acquirers', async (t) => {
  // Regression: a waiter blocked for longer than the starvation threshold (1 ms) registers as
  // the next hand-off target when it wakes (at the latest after one 50 ms liveness slice). If it
  // then took the lock from a dead holder, the stale registration made every other acquirer
  // defer to it forever while the lock was free.
  const m = mutexFor(t, 'stale-handoff');
  const w = await workerAgent(t, m);
  const pastSlices = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 120));
  for (const flavour of ['Promise acquire', 'blocking acquireSync in a worker']) {
    const h = await holder(t, m);
    const waiting = flavour.startsWith('Promise') ? m.acquire() : ask(w, 'acquireSync');
    await pastSlices(); // scenario setup, not synchronisation: let the waiter claim the hand-off
    const k = kill(t, h);
    const got = await waiting;
    await k.gone;
    t.equal(got.ownerDied, true, `${flavour}: recovered`);
    if (got instanceof MutexGuard) got.release();
    else t.match(await ask(w, 'release'), { ok: true });
    const other = await forkReady('mutex-agent.js', [m.name]);
    t.teardown(() => other.kill());
    t.match(await ask(other, 'tryAcquire'), { ok: true }, `${flavour}: another process takes the free lock`);
    t.match(await ask(other, 'release'), { ok: true });
    await ask(other, 'exit');
    t.same(await other.exited, { code: 0, signal: null });
    t.equal(m.tryAcquire(), true, 'so does this thread');
    m.release();
  }
});

t.test(
  'strict policy: each flavour throws OwnerDeadError holding the lock; markConsistent keeps it usable (twice)',
  async (t) => {
    const m = mutexFor(t, 'strict', { onOwnerDeath: 'strict' });
    const ownerDead = { name: 'OwnerDeadError', code: 'SHMSYNC_OWNER_DEAD' };
    // Each returns null (blocking forms: they threw, asserted here) or the Promise form's rejection.
    const rejection = (p: Promise<unknown>): Promise<Err> =>
      p.then(
        () => new Error('resolved') as Err,
        (e: Err) => e,
      );
    const flavours: Array<[string, () => Err | null | Promise<Err>]> = [
      [
        'acquireSync',
        () => {
          t.throws(() => m.acquireSync(), ownerDead);
          return null;
        },
      ],
      [
        'tryAcquire',
        () => {
          t.throws(() => m.tryAcquire(), ownerDead);
          return null;
        },
      ],
      [
        'timed acquireSync',
        () => {
          t.throws(() => m.acquireSync({ timeout: 1_000 }), ownerDead);
          return null;
        },
      ],
      ['acquire', () => rejection(m.acquire())],
      ['withLock', () => rejection(m.withLock(() => t.fail('fn must not run')))],
    ];
    for (const round of [1, 2]) {
      for (const [flavour, attempt] of flavours) {
        const h = await holder(t, m);
        await kill(t, h).gone;
        const result = await attempt();
        let guard: MutexGuard | null = null;
        if (result !== null) {
          // the Promise forms reject with the hold in err.guard
          t.match(result, ownerDead, `${flavour} rejects OwnerDeadError`);
          guard = result.guard ?? null;
          t.ok(guard instanceof MutexGuard && guard.ownerDied, `${flavour}: err.guard holds the lock, ownerDied`);
        } else {
          t.equal(m.isHeld, true, `${flavour}: the caller holds the lock after the throw`);
        }
        t.match(m.info(), { locked: true, holder: { pid: process.pid }, recoverable: true });
        if (guard !== null) {
          guard.markConsistent();
          guard.release();
        } else {
          m.markConsistent();
          m.release();
        }
        t.equal(m.acquireSync({ timeout: 1_000 }), true, `round ${round}, ${flavour}: usable after markConsistent`);
        t.equal(m.ownerDied, false);
        m.release();
      }
    }
    // The recovering holder dies too before deciding: the next acquirer is told again.
    await kill(t, await holder(t, m)).gone;
    const recovering = await forkReady('mutex-agent.js', [m.name]);
    t.teardown(() => recovering.kill());
    t.match(
      await ask(recovering, 'acquireSync'),
      { error: { code: 'SHMSYNC_OWNER_DEAD' } },
      'a child recovers, holding',
    );
    await kill(t, recovering).gone;
    t.throws(() => m.acquireSync(), ownerDead, 'it died before markConsistent: OwnerDeadError again');
    m.markConsistent();
    m.release();
    t.equal(m.info().ownerDeaths, 12);
  },
);

t.test(
  'strict policy: a release without markConsistent makes every acquire fail with SHMSYNC_NOT_RECOVERABLE',
  async (t) => {
    const notRecoverable = { name: 'NotRecoverableError', code: 'SHMSYNC_NOT_RECOVERABLE' };
    for (const how of ['acquireSync', 'acquire'] as const) {
      const m = mutexFor(t, `unrec-${how}`, { onOwnerDeath: 'strict' });
      const h = await holder(t, m);
      await kill(t, h).gone;
      if (how === 'acquireSync') {
        t.throws(() => m.acquireSync(), { code: 'SHMSYNC_OWNER_DEAD' });
        m.release(); // without markConsistent
      } else {
        const err = (await m.acquire().catch((e: Err) => e)) as Err;
        t.equal(err.code, 'SHMSYNC_OWNER_DEAD');
        err.guard!.release(); // without markConsistent
      }
      t.match(m.info(), { locked: false, recoverable: false });
      for (const check of [1, 2]) {
        t.throws(() => m.acquireSync(), notRecoverable, `${how} path, check ${check}: acquireSync`);
        t.throws(() => m.tryAcquire(), notRecoverable, `check ${check}: tryAcquire`);
        t.throws(() => m.acquireSync({ timeout: 100 }), notRecoverable, `check ${check}: timed acquireSync`);
        await t.rejects(m.acquire(), notRecoverable, `check ${check}: acquire`);
        await t.rejects(
          m.withLock(() => 1),
          notRecoverable,
          `check ${check}: withLock`,
        );
      }
      const other = await forkReady('mutex-agent.js', [m.name]);
      t.teardown(() => other.kill());
      t.match(
        await ask(other, 'tryAcquire'),
        { error: { code: 'SHMSYNC_NOT_RECOVERABLE' } },
        'another process sees it too',
      );
      t.match(await ask(other, 'acquire'), { error: { code: 'SHMSYNC_NOT_RECOVERABLE' } });
      await ask(other, 'exit');
      t.same(await other.exited, { code: 0, signal: null });
      t.match(m.info(), { locked: false, recoverable: false });
    }
  },
);

t.test('recovery latency from SIGKILL to acquire (Promise and blocking waiters)', async (t) => {
  const m = mutexFor(t, 'latency');
  const w = await workerAgent(t, m);
  let next = forkReady('mutex-agent.js', [m.name]);
  const total = scaledRounds(24, 8);
  for (let round = 0; round < total; round++) {
    const h = await next;
    t.teardown(() => h.kill());
    if (!(await ask(h, 'acquireSync')).ok) throw new Error('holder could not acquire');
    next = forkReady('mutex-agent.js', [m.name]); // overlaps the next fork with this round
    if (round % 2 === 0) {
      const waiting = m.acquire();
      const k = kill(t, h);
      const g = await waiting;
      latencies.promise.push(ms(k.at, process.hrtime.bigint()));
      if (!g.ownerDied) t.fail('ownerDied not reported');
      g.release();
      await k.gone;
    } else {
      const reply = ask(w, 'acquireSync');
      await until(() => m.info().waiters === 1, 'the worker blocks');
      const k = kill(t, h);
      const r = await reply;
      latencies.blocking.push(ms(k.at, r.at!));
      if (!r.ownerDied) t.fail('ownerDied not reported');
      await ask(w, 'release');
      await k.gone;
    }
  }
  const spare = await next;
  await ask(spare, 'exit');
  t.same(await spare.exited, { code: 0, signal: null }, 'the spare holder exits cleanly');
  for (const [flavour, samples] of Object.entries(latencies)) {
    const sorted = [...samples].sort((a, b) => a - b);
    const pick = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    t.comment(
      `${flavour} waiter, kill -> acquired (n=${sorted.length}): p50 ${pick(0.5).toFixed(2)} ms, ` +
        `p99 ${pick(0.99).toFixed(2)} ms, max ${sorted[sorted.length - 1].toFixed(2)} ms`,
    );
    t.ok(sorted[sorted.length - 1] < 2_000, `${flavour}: every recovery within the 2 s sanity bound`);
  }
  t.equal(m.info().ownerDeaths, total);
});

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
