/**
 * One conformance suite for the locks, run against every backend (shared memory and Redis):
 * Mutex (Promise API, reentrancy, timeouts, AbortSignal, coded errors, fences, owner death,
 * exclusion across processes), Lockable (`Lockable.locked` async methods) and LockManager
 * (exclusive/shared, ifAvailable, steal, signal, query). test/91-lock-conformance.ts runs it
 * for both. Synchronisation is by handshakes (child messages, promise order), never sleeps.
 */
import type { Test } from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Redis from 'ioredis';
import { createRedisBackend, Lockable, LockManager, Mutex, type LockBackend, type MutexGuard } from '../../dist';
import type { Child } from './fork';
import { ask, lockAgent } from './lock-agent';
import { testName } from './shm';
import type { RedisServer } from './redis-server';

export interface BackendUnderTest {
  kind: 'shm' | 'redis';
  /** A new lock (created for shm), closed (and unlinked) at teardown. */
  mutex(t: Test, name: string): Mutex;
  /** Another handle of an existing lock. */
  open(t: Test, name: string): Mutex;
  /** Options for `new Lockable(...)` / LockManager on this backend. */
  lockableOptions(name: string): { name: string; backend?: LockBackend };
  manager(t: Test): LockManager;
  /** argv of test/fixtures/lock-backend-agent.js for lock `name`. */
  agentArgs(name: string): string[];
}

export function shmUnderTest(): BackendUnderTest {
  return {
    kind: 'shm',
    mutex(t, name) {
      const m = new Mutex(name, { create: 'create' });
      t.teardown(() => {
        m.close();
        Mutex.unlink(name);
      });
      return m;
    },
    open(t, name) {
      const m = new Mutex(name, { create: 'open' });
      t.teardown(() => m.close());
      return m;
    },
    lockableOptions: (name) => ({ name }),
    manager: () =>
      new LockManager({
        namespace: testName('ns')
          .slice(0, 60)
          .replace(/[^A-Za-z0-9_.-]/g, ''),
      }),
    agentArgs: (name) => ['shm', name],
  };
}

/** A Redis backend over `server` with 300 ms leases; client and backend closed at teardown. */
export function redisUnderTest(
  t: Test,
  server: RedisServer,
  leaseMs = 300,
): BackendUnderTest & { backend: LockBackend; client: Redis } {
  const client = new Redis({ port: server.port, host: '127.0.0.1' });
  client.on('error', () => undefined);
  const backend = createRedisBackend({ client, leaseMs, renewEveryMs: Math.floor(leaseMs / 3) });
  t.teardown(async () => {
    backend.close();
    await client.quit().catch(() => client.disconnect());
  });
  return {
    kind: 'redis',
    backend,
    client,
    mutex(t, name) {
      const m = new Mutex(name, { backend });
      t.teardown(() => m.close());
      return m;
    },
    open(t, name) {
      const m = new Mutex(name, { backend });
      t.teardown(() => m.close());
      return m;
    },
    lockableOptions: (name) => ({ name, backend }),
    manager: () =>
      new LockManager({
        namespace: testName('ns')
          .replace(/[^A-Za-z0-9_.-]/g, '')
          .slice(0, 60),
        backend,
      }),
    agentArgs: (name) => ['redis', name, String(server.port), String(leaseMs)],
  };
}

const agent = (t: Test, b: BackendUnderTest, name: string): Promise<Child> => lockAgent(t, b.agentArgs(name));

/** Settles after every already-queued microtask and I/O callback of this turn. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export function lockConformance(t: Test, b: BackendUnderTest): void {
  const name = (tag: string): string => testName(`${b.kind}-${tag}`);

  t.test('Mutex: a guard holds and releases; every fresh grant has a greater fence', async (t) => {
    const m = b.mutex(t, name('fence'));
    const g1 = await m.acquire();
    t.equal(typeof g1.fence, 'bigint');
    t.equal(g1.ownerDied, false);
    t.equal(g1.reentrant, false);
    t.equal(g1.signal.aborted, false, 'a live hold is not lost');
    t.equal(g1.release(), true);
    t.equal(g1.release(), false, 'a second release is ignored');
    const g2 = await m.acquire();
    t.ok(g2.fence > g1.fence, `fence ${g2.fence} > ${g1.fence}`);
    const info = await m.infoAsync();
    t.equal(info.locked, true);
    t.equal(info.acquisitions, g2.fence, 'info() counts the grants: its counter is the fence');
    g2.release();
  });

  t.test('Mutex: reentrant inside withLock; the inner guard shares the hold', async (t) => {
    const m = b.mutex(t, name('reent'));
    const out = await m.withLock(async () => {
      const inner = await m.acquire();
      t.equal(inner.reentrant, true);
      t.equal(m.isHeld, true);
      const again = await m.withLock(async () => 'nested');
      inner.release();
      return again;
    });
    t.equal(out, 'nested');
    t.equal(m.isHeld, false);
    // Free again: an acquire outside the scope gets it at once.
    const g = await m.acquire({ timeout: 5000 });
    g.release();
  });

  t.test('Mutex: a second holder waits; timeout rejects with SHMSYNC_TIMEOUT; waiters are FIFO', async (t) => {
    const m = b.mutex(t, name('wait'));
    const free = await m.acquire({ timeout: 0 });
    t.equal(free.reentrant, false, 'timeout 0 takes a free lock');
    free.release();
    const g = await m.acquire();
    await t.rejects(m.acquire({ timeout: 0 }), { code: 'SHMSYNC_TIMEOUT' }, 'timeout 0 tries once');
    await t.rejects(m.acquire({ timeout: 30 }), { code: 'SHMSYNC_TIMEOUT' });
    const order: number[] = [];
    const waits = [1, 2, 3].map((i) =>
      m.acquire().then((w) => {
        order.push(i);
        w.release();
      }),
    );
    await turn();
    t.same(order, [], 'nobody gets a held lock');
    g.release();
    await Promise.all(waits);
    t.same(order, [1, 2, 3], 'granted in request order');
  });

  t.test('Mutex: AbortSignal ends a wait with AbortError; an aborted signal rejects at once', async (t) => {
    const m = b.mutex(t, name('abort'));
    const g = await m.acquire();
    const ac = new AbortController();
    const p = m.acquire({ signal: ac.signal });
    await turn();
    ac.abort(new Error('stop'));
    await t.rejects(p, { code: 'ABORT_ERR' });
    await t.rejects(m.acquire({ signal: AbortSignal.abort() }), { code: 'ABORT_ERR' });
    g.release();
    const again = await m.acquire({ timeout: 5000 });
    t.pass('the lock is free after the aborted waits');
    again.release();
  });

  t.test('Mutex: withLock releases on throw; closing the last handle fails its waiters', async (t) => {
    const m = b.mutex(t, name('throw'));
    await t.rejects(
      m.withLock(async () => {
        throw new Error('boom');
      }),
      /boom/,
    );
    const g0 = await m.acquire({ timeout: 5000 });
    g0.release();
    const solo = b.mutex(t, name('close'));
    const g = await solo.acquire();
    const waiting = solo.acquire();
    await turn();
    solo.close();
    await t.rejects(waiting, { code: 'SHMSYNC_CLOSED' });
    t.throws(() => g.release(), { code: 'SHMSYNC_NOT_OWNER' }, "the closed handle's hold is gone");
    await t.rejects(solo.acquire(), { code: 'SHMSYNC_CLOSED' });
  });

  t.test('Mutex: exclusion across processes (read-modify-write of a file, fences increasing)', async (t) => {
    const lockName = name('excl');
    b.mutex(t, lockName); // created (shm) before the agents open it
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmsync-conf-'));
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'counter');
    fs.writeFileSync(file, '0');
    const agents = await Promise.all([agent(t, b, lockName), agent(t, b, lockName)]);
    const rounds = 12;
    const replies = await Promise.all(
      agents.map((a) => ask<{ fencesIncreasing: boolean }>(a, 'count', { file, rounds })),
    );
    t.equal(fs.readFileSync(file, 'utf8'), String(2 * rounds), 'no increment lost: the holds never overlapped');
    t.ok(
      replies.every((r) => r.fencesIncreasing),
      'each process saw its fences increase',
    );
    for (const a of agents) await ask(a, 'exit');
  });

  t.test('Mutex: a holder SIGKILLed is taken over with ownerDied and a greater fence', async (t) => {
    const lockName = name('died');
    const m = b.mutex(t, lockName);
    const events: unknown[] = [];
    m.on('ownerDied', (e) => events.push(e));
    const victim = await agent(t, b, lockName);
    const got = await ask<{ fence: bigint }>(victim, 'acquire');
    victim.kill('SIGKILL');
    await victim.exited;
    const g: MutexGuard = await m.acquire({ timeout: 10_000 });
    t.equal(g.ownerDied, true, 'the grant knows its previous holder died holding it');
    t.ok(g.fence > got.fence, `fence ${g.fence} > the dead holder's ${got.fence}`);
    t.equal(events.length, 1, "the handle emitted 'ownerDied'");
    g.release();
    const next = await m.acquire();
    t.equal(next.ownerDied, false, 'a clean release leaves no owner death behind');
    next.release();
  });

  t.test('Lockable: async locked methods on the backend never interleave and re-enter', async (t) => {
    class Account extends Lockable {
      balance = 0;
      trace: string[] = [];
    }
    const deposit = Lockable.locked(async function (this: Account, n: number): Promise<void> {
      this.trace.push('in');
      const v = this.balance;
      await turn();
      this.balance = v + n;
      this.trace.push('out');
    });
    const depositTwice = Lockable.locked(async function (this: Account, n: number): Promise<void> {
      await deposit.call(this, n); // re-enters the held lock
      await deposit.call(this, n);
    });
    const lockName = name('lockable');
    const a = new Account(b.lockableOptions(lockName));
    t.teardown(() => {
      a.close();
      if (b.kind === 'shm') Mutex.unlink(lockName);
    });
    await Promise.all([deposit.call(a, 1), depositTwice.call(a, 10), deposit.call(a, 100)]);
    t.equal(a.balance, 121);
    t.same(a.trace, ['in', 'out', 'in', 'out', 'in', 'out', 'in', 'out'], 'one method at a time');
    t.equal(a.lock.backend, b.kind === 'redis' ? 'redis' : 'shm');
  });

  t.test('LockManager: exclusive excludes, shared shares, ifAvailable, signal, query()', async (t) => {
    const locks = b.manager(t);
    const res = name('res');
    // Shared holds coexist.
    let release1!: () => void;
    const held1 = new Promise<void>((r) => (release1 = r));
    let inShared = 0;
    const s1 = locks.request(res, { mode: 'shared' }, async () => {
      inShared++;
      await held1;
    });
    const s2 = locks.request(res, { mode: 'shared' }, async (lock) => {
      t.equal(lock?.mode, 'shared');
      inShared++;
      const snap = await locks.query();
      t.equal(snap.held.filter((h) => h.name === res).length, 2, 'query() lists both shared holders');
    });
    await s2;
    t.equal(inShared, 2, 'two shared holders at once');
    // An exclusive request waits for the shared one; ifAvailable gets null meanwhile.
    t.equal(await locks.request(res, { ifAvailable: true }, (lock) => lock), null);
    const ac = new AbortController();
    const aborted = locks.request(res, { signal: ac.signal }, () => 'never');
    let exclusiveRan = false;
    const ex = locks.request(res, async (lock) => {
      exclusiveRan = true;
      t.equal(lock?.mode, 'exclusive');
    });
    await turn();
    ac.abort(new DOMException('no', 'AbortError'));
    await t.rejects(aborted, { name: 'AbortError' });
    t.equal(exclusiveRan, false, 'exclusive waits while shared is held');
    release1();
    await Promise.all([s1, ex]);
    t.equal(exclusiveRan, true);
  });

  t.test('LockManager: steal ends the holder with AbortError and marks its lock stolen', async (t) => {
    const locks = b.manager(t);
    const res = name('steal');
    let first: { stolen: boolean; signal: AbortSignal } | null = null;
    let granted!: () => void;
    const isHeld = new Promise<void>((r) => (granted = r));
    const victim = locks.request(res, async (lock) => {
      first = lock as unknown as { stolen: boolean; signal: AbortSignal };
      granted();
      await new Promise<void>((r) => lock!.signal.addEventListener('abort', () => r()));
      return 'kept running';
    });
    await isHeld;
    const victimEnds = t.rejects(victim, { name: 'AbortError' });
    const thief = await locks.request(res, { steal: true }, (lock) => lock?.name);
    t.equal(thief, res, 'the steal is granted at once');
    await victimEnds;
    t.equal(first!.stolen, true);
    t.equal(first!.signal.aborted, true);
  });
}
