import t from 'tap';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import type Redis from 'ioredis';
import { LockManager } from '../dist';
import { backendWith, clientOf } from './helpers/redis-clients';
import { backendOf, mutexOf, redisEnv } from './helpers/redis-lock';
import { RedisServer } from './helpers/redis-server';
import { testName } from './helpers/shm';

// The Redis lock backend attacked: another client forging, deleting or retyping the lock's keys,
// odd lock names, odd timeouts, a connection that hangs, a handle closed under a waiter, and a
// process that must exit by itself after it closed its handles. Every case failed before its fix
// (see docs/redis.md "Hardening").

const key = (name: string, suffix: string): string => `shmsync:lock:${name}:${suffix}`;

t.test('a fence counter set to a string gives SHMSYNC_CORRUPT at once, not a 2 s retry loop', async (t) => {
  const { client, admin } = await redisEnv(t);
  const name = testName('atk-fstr');
  const m = mutexOf(t, name, backendOf(t, client));
  (await m.acquire()).release();
  await m.acquire().then((g) => g.release());
  await admin.set(key(name, 'f'), 'abc');
  await admin.del(key(name, 'h'));
  const t0 = Date.now();
  await t.rejects(m.acquire({ timeout: 5000 }), { code: 'SHMSYNC_CORRUPT' });
  t.ok(Date.now() - t0 < 1000, `rejected at once (${Date.now() - t0} ms)`);
  t.equal(await admin.get(key(name, 'x')), null, 'nothing was granted');
});

t.test('a fence counter reset or decremented never makes a fence go backwards', async (t) => {
  const { client, admin, server } = await redisEnv(t);
  const name = testName('atk-fdec');
  const m = mutexOf(t, name, backendOf(t, client));
  let last = 0n;
  for (let i = 0; i < 5; i++) {
    const g = await m.acquire();
    last = g.fence;
    g.release();
  }
  await m.acquire().then((g) => g.release());
  last += 1n;
  await admin.set(key(name, 'f'), '1'); // decremented
  const g1 = await m.acquire();
  t.ok(g1.fence > last, `after a decrement: ${g1.fence} > ${last}`);
  g1.release();
  await admin.del(key(name, 'f')); // deleted (an eviction, a careless DEL)
  // Another "host": a fresh client and backend that never saw a fence of this lock.
  const other = clientOf(t, server);
  const m2 = mutexOf(t, name, backendOf(t, other));
  const g2 = await m2.acquire();
  t.ok(g2.fence > g1.fence, `after a DEL, on another host: ${g2.fence} > ${g1.fence}`);
  g2.release();
  const g3 = await m.acquire();
  g3.release();
  await admin.del(key(name, 'f'), key(name, 'h')); // both records gone: this context remembers
  const g4 = await m.acquire();
  t.ok(g4.fence > g3.fence, `after both records were deleted: ${g4.fence} > ${g3.fence} (the fence this context saw)`);
  g4.release();
});

t.test('a forged holder without a lease is given one and taken over', async (t) => {
  const { client, admin } = await redisEnv(t);
  const name = testName('atk-forged');
  const m = mutexOf(t, name, backendOf(t, client, 300));
  await admin.set(key(name, 'x'), 'forged-by-someone');
  const g = await m.acquire({ timeout: 3000 });
  t.not(await admin.get(key(name, 'x')), 'forged-by-someone', 'the forged holder is gone');
  t.ok((await admin.pttl(key(name, 'x'))) > 0, 'the grant has a lease');
  g.release();
});

t.test('lock keys of the wrong type give SHMSYNC_CORRUPT, never a crash or a hang', async (t) => {
  const { client, admin } = await redisEnv(t);
  for (const suffix of ['x', 's', 'h', 'f']) {
    const name = testName(`atk-type-${suffix}`);
    const m = mutexOf(t, name, backendOf(t, client, 300));
    await admin.rpush(key(name, suffix), 'a', 'b');
    const t0 = Date.now();
    await t.rejects(m.acquire({ timeout: 5000 }), { code: 'SHMSYNC_CORRUPT' }, `${suffix} as a list`);
    t.ok(Date.now() - t0 < 1000, `${suffix}: at once (${Date.now() - t0} ms)`);
    await admin.del(key(name, suffix));
    const g = await m.acquire({ timeout: 3000 });
    t.ok(g.fence > 0n, `${suffix}: usable again once the key is gone`);
    g.release();
  }
});

t.test('a holder whose key is retyped under it loses the hold at its next renewal', async (t) => {
  const { client, admin } = await redisEnv(t);
  const name = testName('atk-retype-held');
  const backend = backendWith(t, { client, leaseMs: 3000, renewEveryMs: 50 });
  const m = mutexOf(t, name, backend);
  const g = await m.acquire();
  await admin.del(key(name, 'x'));
  await admin.rpush(key(name, 'x'), 'z');
  const t0 = Date.now();
  const err = await new Promise<unknown>((resolve) =>
    g.signal.addEventListener('abort', () => resolve(g.signal.reason)),
  );
  t.match(err, { code: 'SHMSYNC_LOCK_LOST' });
  t.ok(Date.now() - t0 < 1500, `lost at the first renewal, not at the 3 s deadline (${Date.now() - t0} ms)`);
  g.release();
});

t.test('lone surrogates, hash tags, separators and long names stay distinct locks', async (t) => {
  const { client } = await redisEnv(t);
  const backend = backendOf(t, client);
  const lm = new LockManager({ backend, namespace: testName('atk-names') });
  const names = ['\uD800', '\uDC00', '\uFFFD', '\u{10FFFF}x', '{tag}', 'a:x', 'a', 'x'.repeat(512), ''];
  const release: (() => void)[] = [];
  const granted: string[] = [];
  let all: Promise<unknown>[] = [];
  // All asked for at once, each held until every callback ran: a name that shares keys with
  // another one gets null (ifAvailable).
  let answered = 0;
  await new Promise<void>((everyoneIn) => {
    all = names.map((n) =>
      lm.request(n, { ifAvailable: true }, (lock) => {
        if (lock !== null) granted.push(n);
        if (++answered === names.length) everyoneIn();
        return lock === null ? undefined : new Promise<void>((r) => release.push(r));
      }),
    );
  });
  const q = await lm.query();
  t.equal(granted.length, names.length, 'each name granted once, at the same time');
  t.same(q.held.map((h) => h.name).sort(), [...names].sort(), 'query() gives the names back exactly');
  for (const r of release) r();
  await Promise.all(all);
});

t.test('timeouts: 0, NaN, negative, Infinity and 2^53; an aborted signal; release twice', async (t) => {
  const { client, server } = await redisEnv(t);
  const name = testName('atk-timeouts');
  const m = mutexOf(t, name, backendOf(t, client));
  const other = clientOf(t, server);
  const m2 = mutexOf(t, name, backendOf(t, other));
  await t.rejects(m.acquire({ timeout: NaN }), { code: 'SHMSYNC_OUT_OF_RANGE' });
  await t.rejects(m.acquire({ timeout: -1 }), { code: 'SHMSYNC_OUT_OF_RANGE' });
  await t.rejects(m.acquire({ signal: AbortSignal.abort() }), { name: 'AbortError' });
  const g = await m.acquire({ timeout: 2 ** 53 });
  await t.rejects(m2.acquire({ timeout: 0 }), { code: 'SHMSYNC_TIMEOUT' });
  const inf = m2.acquire({ timeout: Infinity });
  const huge = m2.acquire({ timeout: 2 ** 53 });
  t.equal(g.release(), true);
  t.equal(g.release(), false, 'a second release is ignored');
  const a = await inf;
  t.ok(a.fence > g.fence);
  a.release();
  (await huge).release();
});

t.test('a hung connection does not hang a waiter forever (BackendError, bounded)', async (t) => {
  const { client, server } = await redisEnv(t);
  const name = testName('atk-hung');
  const other = clientOf(t, server);
  const holder = mutexOf(t, name, backendOf(t, other, 300));
  const g = await holder.acquire();
  const b = backendWith(t, { client: hangingAfter(client, 2), leaseMs: 300 });
  const m = mutexOf(t, name, b);
  const t0 = Date.now();
  await t.rejects(
    m.acquire(),
    { code: 'SHMSYNC_BACKEND' },
    'a wait forever still ends when the server stops answering',
  );
  t.ok(Date.now() - t0 < 6000, `bounded (${Date.now() - t0} ms)`);
  g.release();
});

/** A client whose commands after the first `n` never get an answer (a black-holed connection). */
function hangingAfter(client: Redis, n: number): Redis {
  let sent = 0;
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === 'call') {
        return (...args: unknown[]) =>
          ++sent > n ? new Promise(() => undefined) : (target.call as (...a: unknown[]) => unknown)(...args);
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

t.test('close() of a handle under a waiter and a holder: the process exits by itself', async (t) => {
  const server = await RedisServer.start(t);
  const script = path.join(__dirname, 'fixtures', 'redis-close-exit.js');
  const child = spawn(process.execPath, [script, String(server.port), testName('atk-exit')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
  const [code, signal] = await new Promise<[number | null, string | null]>((r) =>
    child.on('exit', (c, s) => r([c, s])),
  );
  clearTimeout(timer);
  t.equal(signal, null, 'exited by itself (not killed after 8 s)');
  t.equal(code, 0);
  t.match(out, /closed-waiter SHMSYNC_CLOSED/);
  t.match(out, /released-on-close 1/);
});

t.test('renewals racing releases never resurrect a released lock', async (t) => {
  const { client, admin } = await redisEnv(t);
  const name = testName('atk-renew-race');
  const backend = backendWith(t, { client, leaseMs: 200, renewEveryMs: 1 });
  const m = mutexOf(t, name, backend);
  let resurrected = 0;
  for (let i = 0; i < 100; i++) {
    const g = await m.acquire();
    // Let renewals fly (every 1 ms) while the hold lasts a few of their periods.
    await new Promise((r) => setTimeout(r, i % 5));
    g.release();
    await m.withLock(() => undefined); // awaits its release reaching the server
    if ((await admin.exists(key(name, 'x'))) === 1) resurrected += 1;
  }
  t.equal(resurrected, 0, 'no holder key after any release');
});

t.test('many waiters in one process: exclusion, FIFO order, nobody left behind', async (t) => {
  const { client } = await redisEnv(t);
  const name = testName('atk-many');
  const m = mutexOf(t, name, backendOf(t, client, 2000));
  let inside = 0;
  let overlap = 0;
  const order: number[] = [];
  await Promise.all(
    Array.from({ length: 300 }, (_, i) =>
      m.withLock(async () => {
        inside += 1;
        if (inside > 1) overlap += 1;
        order.push(i);
        await Promise.resolve();
        inside -= 1;
      }),
    ),
  );
  t.equal(overlap, 0);
  t.same(
    order,
    [...order].sort((a, b) => a - b),
    'served in request order',
  );
  t.equal(order.length, 300);
});

t.test('LockManager on Redis: a stream of readers does not starve a writer', async (t) => {
  const { client, server } = await redisEnv(t);
  const other = clientOf(t, server);
  const ns = testName('atk-starve');
  const readers = new LockManager({ backend: backendOf(t, client, 2000), namespace: ns });
  const writers = new LockManager({ backend: backendOf(t, other, 2000), namespace: ns });
  let stop = false;
  let reads = 0;
  let tenReads!: () => void;
  const tenReadsDone = new Promise<void>((r) => (tenReads = r));
  // Three readers whose holds always overlap: the lock is never free of readers on its own.
  const loops = Array.from({ length: 3 }, async () => {
    while (!stop) {
      await readers.request('res', { mode: 'shared' }, async () => {
        reads += 1;
        if (reads === 10) tenReads();
        await new Promise((r) => setTimeout(r, 5));
      });
    }
  });
  await tenReadsDone;
  const t0 = Date.now();
  const during = reads;
  await writers.request('res', async () => undefined);
  const waited = Date.now() - t0;
  stop = true;
  await Promise.all(loops);
  t.ok(
    waited < 3000,
    `the writer got the lock while readers kept asking (${waited} ms, ${reads - during} reads meanwhile)`,
  );
});
