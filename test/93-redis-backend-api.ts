import t from 'tap';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { createRedisBackend, Lockable, LockManager, Mutex, type Lock } from '../dist';
import { RedisServer } from './helpers/redis-server';
import { backendWith, clientOf } from './helpers/redis-clients';
import { backendOf, mutexOf, redisEnv } from './helpers/redis-lock';
import { testName } from './helpers/shm';

// The Redis backend's API edges: both client libraries, option validation, the API that does not
// exist remotely (coded errors), waits woken by release notices (not by polling), bounded polling.

t.test('a node-redis v5 client works as well as ioredis (duck-typed, no runtime dependency)', async (t) => {
  const server = await RedisServer.start(t);
  const a = createClient({ url: server.url });
  a.on('error', () => undefined);
  await a.connect();
  const ioredis = new Redis({ port: server.port, host: '127.0.0.1' });
  t.teardown(async () => {
    await a.close();
    await ioredis.quit();
  });
  const viaNode = createRedisBackend({ client: a, leaseMs: 300 });
  const viaIo = createRedisBackend({ client: ioredis, leaseMs: 300 });
  t.teardown(() => {
    viaNode.close();
    viaIo.close();
  });
  t.equal(viaNode.clientFlavour, 'node-redis');
  t.equal(viaIo.clientFlavour, 'ioredis');
  const name = testName('redis-clients');
  const m1 = new Mutex(name, { backend: viaNode });
  const m2 = new Mutex(name, { backend: viaIo });
  t.teardown(() => {
    m1.close();
    m2.close();
  });
  const g1 = await m1.acquire();
  const waiting = m2.acquire(); // another "host": waits for the node-redis holder
  const snapshot = await m2.infoAsync();
  t.equal(snapshot.locked, true);
  g1.release();
  const g2 = await waiting;
  t.ok(g2.fence > g1.fence, 'the ioredis waiter got it after the node-redis holder released');
  g2.release();
  const g3 = await m1.acquire({ timeout: 5000 });
  t.ok(g3.fence > g2.fence, 'and back (node-redis subscriber path)');
  g3.release();
});

t.test('options are validated with coded errors', async (t) => {
  t.throws(() => createRedisBackend({ client: {} }), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
  t.throws(() => createRedisBackend(undefined as never), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
  const client = new Redis({ lazyConnect: true });
  t.throws(() => createRedisBackend({ client, leaseMs: 0 }), { code: 'SHMSYNC_OUT_OF_RANGE' });
  t.throws(() => createRedisBackend({ client, leaseMs: 100, renewEveryMs: 100 }), { code: 'SHMSYNC_OUT_OF_RANGE' });
  t.throws(() => createRedisBackend({ client, lease: 5 } as never), { code: 'SHMSYNC_INVALID_ARG_VALUE' });
  const backend = createRedisBackend({ client });
  t.equal(backend.leaseMs, 5000);
  t.equal(backend.renewEveryMs, 1666);
  t.throws(() => new Mutex('x', { backend: {} as never }), { code: 'SHMSYNC_INVALID_ARG_VALUE' });
  t.throws(() => new Mutex('x', { backend, lifetime: 'attached' }), { code: 'SHMSYNC_INVALID_ARG_VALUE' });
  t.throws(() => new Lockable({ backend, lock: 'x' }), { code: 'SHMSYNC_INVALID_ARG_VALUE' });
  t.throws(() => new LockManager({ backend, mode: 0o600 }), TypeError);
  client.disconnect();
});

t.test('the blocking API, info() and sync locked methods throw SHMSYNC_UNSUPPORTED on Redis', async (t) => {
  const client = new Redis({ lazyConnect: true });
  const backend = createRedisBackend({ client });
  const m = new Mutex(testName('redis-sync'), { backend });
  t.equal(m.backend, 'redis');
  for (const call of [
    () => m.acquireSync(),
    () => m.tryAcquire(),
    () => m.release(),
    () => m.withLockSync(() => 1),
    () => m.runLocked(() => 1),
    () => m.info(),
    () => m.markConsistent(),
  ]) {
    t.throws(call, { code: 'SHMSYNC_UNSUPPORTED' });
  }
  const syncMethod = Lockable.locked(function (this: Lockable) {
    return 1;
  });
  const obj = new Lockable({ name: testName('redis-lockable'), backend });
  t.throws(() => syncMethod.call(obj), { code: 'SHMSYNC_UNSUPPORTED' }, 'a non-async locked method');
  m.close();
  t.throws(() => m.acquireSync(), { code: 'SHMSYNC_CLOSED' });
  await t.rejects(m.acquire(), { code: 'SHMSYNC_CLOSED' });
  obj.close();
  client.disconnect();
});

t.test('a waiter is woken by the release notice, not by its poll timer', async (t) => {
  const server = await RedisServer.start(t);
  // Polls and leases of a minute: only the notice can wake the waiter within the test's time.
  const [holderSide, waiterSide] = [0, 1].map(() =>
    backendWith(t, { client: clientOf(t, server), leaseMs: 60_000, pollMaxMs: 60_000 }),
  );
  const name = testName('redis-notice');
  const holder = mutexOf(t, name, holderSide);
  const waiter = mutexOf(t, name, waiterSide);
  const g = await holder.acquire();
  const waiting = waiter.acquire();
  // The waiter is registered (and so subscribed) once it shows in the server's view.
  while ((await holder.infoAsync()).waiters === 0) await new Promise((r) => setImmediate(r));
  const released = performance.now();
  g.release();
  const got = await waiting;
  const took = performance.now() - released;
  t.ok(took < 10_000, `granted ${took.toFixed(0)} ms after the release (poll period 60 s)`);
  got.release();
});

t.test('a waiter without notices polls at most every pollMaxMs (no busy loop)', async (t) => {
  const { client, admin: other } = await redisEnv(t);
  const holderSide = backendWith(t, { client: other, leaseMs: 60_000 });
  const waiterSide = backendWith(t, { client, leaseMs: 60_000, pollMaxMs: 100 });
  const name = testName('redis-poll');
  const holder = mutexOf(t, name, holderSide);
  const waiter = mutexOf(t, name, waiterSide);
  const g = await holder.acquire();
  // Script runs (each attempt is one EVALSHA) as the server counts them.
  const scriptRuns = async (): Promise<number> => {
    const text = (await other.info('commandstats')) as string;
    let n = 0;
    for (const m of text.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)) n += Number(m[1]);
    return n;
  };
  const before = await scriptRuns();
  await t.rejects(waiter.acquire({ timeout: 600 }), { code: 'SHMSYNC_TIMEOUT' });
  const runs = (await scriptRuns()) - before;
  // About 600 / 100 polls, the retry right after subscribing, and the withdrawal.
  t.ok(runs >= 3 && runs <= 12, `${runs} script runs during a 600 ms wait`);
  // The withdrawal follows the rejection (the attempt loop ends on its next turn); without it
  // the registration would stay for its 60 s TTL and this loop would time the test out.
  while ((await holder.infoAsync()).waiters !== 0) await new Promise((r) => setImmediate(r));
  t.pass('the timed-out waiter withdrew its registration');
  g.release();
});

t.test('LockManager across hosts: a steal from another client ends the holder at its next renewal', async (t) => {
  const server = await RedisServer.start(t);
  const [hostA, hostB] = [0, 1].map(() => backendOf(t, clientOf(t, server), 300));
  const namespace = 'steal-test';
  const a = new LockManager({ namespace, backend: hostA });
  const b = new LockManager({ namespace, backend: hostB });
  let held!: (lock: Lock) => void;
  const granted = new Promise<Lock>((r) => (held = r));
  const victim = a.request('res', (lock) => {
    held(lock!);
    return new Promise((r) => lock!.signal.addEventListener('abort', r));
  });
  const victimEnds = t.rejects(victim, { name: 'AbortError' });
  const lock = await granted;
  const seen = await b.query();
  t.same(
    seen.held.map((h) => [h.name, h.mode, h.clientId]),
    [['res', 'exclusive', hostA.clientId]],
    "host B's query() sees host A's hold",
  );
  t.equal(await b.request('res', { steal: true }, (l) => l?.name), 'res', 'the steal is granted at once');
  await victimEnds;
  t.equal(lock.stolen, true);
  t.same((await a.query()).held, [], 'nothing held after the thief released');
});

t.test('dropped handles are garbage-collected; a dropped handle never drops a hold', async (t) => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const server = await RedisServer.start(t);
  // A lease far above the forced full GCs' pauses on a loaded machine: the hold must not be lost.
  const backend = backendOf(t, clientOf(t, server), 5000);
  let collected = 0;
  const registry = new FinalizationRegistry(() => collected++);
  const idle = testName('redis-gc-idle');
  (() => {
    for (let i = 0; i < 20; i++) registry.register(new Mutex(idle, { backend }), i);
  })();
  const held = testName('redis-gc-held');
  const g = await (() => {
    const m = new Mutex(held, { backend });
    registry.register(m, -1);
    return m.acquire();
  })();
  for (let i = 0; i < 50 && collected < 21; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  t.equal(collected, 21, 'every dropped handle was collected (the engine holds them weakly)');
  const other = new Mutex(held, { backend });
  t.teardown(() => other.close());
  await t.rejects(other.acquire({ timeout: 0 }), { code: 'SHMSYNC_TIMEOUT' }, 'the hold outlived its handle');
  t.equal(g.release(), true);
  const again = await other.acquire({ timeout: 0 });
  t.ok(again.fence > g.fence);
  again.release();
});

/** INFO commandstats as command -> calls. */
async function commandCalls(admin: Redis): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const line of (await admin.info('commandstats')).split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

t.test('an uncontended cycle: 2 scripts, at most 8 commands, no per-cycle bookkeeping', async (t) => {
  const { client, admin } = await redisEnv(t);
  const m = mutexOf(t, 'cycle', backendWith(t, { client, prefix: 'cyc:' }));
  (await m.acquire()).release(); // loads the scripts
  await (await m.acquire()).release();
  const cycles = 50;
  const before = await commandCalls(admin);
  let last = 0n;
  for (let i = 0; i < cycles; i++) {
    const g = await m.acquire();
    t.ok(g.fence > last, 'fences still grow');
    last = g.fence;
    await g.release();
  }
  const after = await commandCalls(admin);
  const delta = new Map<string, number>();
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0) - (k === 'info' ? 1 : 0);
    if (d > 0) delta.set(k, d);
  }
  t.equal(delta.get('evalsha'), 2 * cycles, 'one script to acquire, one to release');
  const inner = [...delta].filter(([k]) => k !== 'evalsha').reduce((a, [, v]) => a + v, 0);
  t.ok(inner <= 8 * cycles, `commands inside the scripts: ${inner / cycles} per cycle (${JSON.stringify([...delta])})`);
  for (const k of ['sadd', 'srem', 'time', 'publish', 'pttl']) t.notOk(delta.has(k), `no ${k.toUpperCase()} per cycle`);
  t.same((await admin.keys('cyc:*')).sort(), ['cyc:lock:cycle:f', 'cyc:lock:cycle:h'], 'only the fence records stay');
});

t.test('query() finds the names by SCAN under its own prefix only (glob characters escaped)', async (t) => {
  const server = await RedisServer.start(t);
  const clients = [0, 1, 2].map(() => clientOf(t, server));
  // '[a]?*\\' as a glob would not match itself (and '[a]?' would match 'ab'): escaped, it finds
  // exactly its own keys.
  const glob = backendWith(t, { client: clients[0], prefix: '[a]?*\\', leaseMs: 2000 });
  const plain = backendWith(t, { client: clients[1], prefix: 'ab', leaseMs: 2000 });
  const other = backendWith(t, { client: clients[2], prefix: '[a]?*\\', leaseMs: 2000 });
  const names = ['one', 'x:x', 'w', 'a:s', 'ends:wx', '\uD800'];
  const mutexes = names.map((n) => mutexOf(t, n, glob));
  const foreign = mutexOf(t, 'two', plain);
  const waiter = mutexOf(t, 'one', other);
  const guards = await Promise.all(mutexes.map((m) => m.acquire()));
  const foreignGuard = await foreign.acquire();
  const waiting = waiter.acquire({ timeout: 5000 });
  // the waiter registers (B:w) before it sleeps; poll query() until it shows (bounded by the timeout)
  let q = await glob.query();
  for (let i = 0; q.pending.length === 0 && i < 5000; i++) q = await glob.query();
  t.same(q.held.map((h) => h.name).sort(), [...names].sort(), 'every held name, exactly, none of prefix "ab"');
  t.same(
    q.pending.map((p) => [p.name, p.mode]),
    [['one', 'exclusive']],
    'the waiter is listed',
  );
  t.same(
    (await plain.query()).held.map((h) => h.name),
    ['two'],
    'prefix "ab" sees only its own',
  );
  for (const g of guards) await g.release();
  (await waiting).release();
  await foreignGuard.release();
  const empty = await glob.query();
  t.same([empty.held, empty.pending], [[], []], 'nothing left once all are released');
});
