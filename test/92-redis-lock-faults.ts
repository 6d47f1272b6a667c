import t, { type Test } from 'tap';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Mutex } from '../dist';
import type { Child } from './helpers/fork';
import { ask, lockAgent } from './helpers/lock-agent';
import { redisUnderTest } from './helpers/lock-conformance';
import { RedisServer } from './helpers/redis-server';
import { testName } from './helpers/shm';

// Faults of the Redis backend, on a real redis-server: a holder SIGKILLed, the server restarted
// mid-run, a holder paused past its lease (SIGSTOP) and a server gone longer than a lease.
// Synchronised by handshakes (agent messages, events); the only timers are the leases.

const agent = (t: Test, server: RedisServer, name: string, leaseMs: number): Promise<Child> =>
  lockAgent(t, ['redis', name, String(server.port), String(leaseMs)]);

/** A resource that accepts a write only with a fence at least as high as any it has seen. */
class FencedResource {
  max = 0n;
  writes: bigint[] = [];
  write(fence: bigint): boolean {
    if (fence < this.max) return false;
    this.max = fence;
    this.writes.push(fence);
    return true;
  }
}

t.test('a SIGKILLed holder keeps the lock for the rest of its lease, then it is taken over', async (t) => {
  const server = await RedisServer.start(t);
  const leaseMs = 1500; // long enough that "still held right after the kill" holds on a loaded machine
  const b = redisUnderTest(t, server, leaseMs);
  const name = testName('redis-kill');
  const m = b.mutex(t, name);
  const victim = await agent(t, server, name, leaseMs);
  const got = await ask<{ fence: bigint }>(victim, 'acquire');
  victim.kill('SIGKILL');
  await victim.exited;
  const killedAt = performance.now();
  await t.rejects(m.acquire({ timeout: 0 }), { code: 'SHMSYNC_TIMEOUT' }, 'the dead holder still has its lease');
  const g = await m.acquire({ timeout: 10_000 });
  const waited = performance.now() - killedAt;
  t.ok(waited >= leaseMs - 2 * (leaseMs / 3) - 50, `taken over after the lease (${waited.toFixed(0)} ms)`);
  t.equal(g.ownerDied, true);
  t.ok(g.fence > got.fence, `fence ${g.fence} > ${got.fence}`);
  const info = await m.infoAsync();
  t.equal(info.ownerDeaths, 1);
  t.equal(info.holder?.pid, process.pid, 'info() names the holder from Redis');
  g.release();
});

t.test('redis-server restarted (SIGKILL, AOF) mid-run: clients reconnect, nothing granted twice', async (t) => {
  const server = await RedisServer.start(t, { persist: true });
  // Longer than a restart takes: holders keep their leases across it (the lease keys survive in
  // the AOF with their absolute expiry).
  const leaseMs = 3000;
  const name = testName('redis-restart');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmsync-restart-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'counter');
  const log = path.join(dir, 'fences');
  fs.writeFileSync(file, '0');
  fs.writeFileSync(log, '');
  const agents = await Promise.all([agent(t, server, name, leaseMs), agent(t, server, name, leaseMs)]);
  const rounds = 30;
  const counting = Promise.all(agents.map((a) => ask(a, 'count', { file, rounds, log })));
  // Restart once the run is under way (the fence log is the progress handshake).
  const watcher = fs.watch(log);
  t.teardown(() => watcher.close());
  while (fs.readFileSync(log, 'utf8').split('\n').length < 10) await once(watcher, 'change');
  watcher.close();
  await server.restart({ kill: true });
  await counting;
  t.equal(fs.readFileSync(file, 'utf8'), String(2 * rounds), 'every increment kept: holds never overlapped');
  const fences = fs
    .readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .map((x) => BigInt(x));
  t.equal(fences.length, 2 * rounds);
  const increasing = fences.every((f, i) => i === 0 || f > fences[i - 1]);
  t.ok(increasing, 'fences strictly increase in hold order across the restart (no grant twice)');
  for (const a of agents) await ask(a, 'exit');
});

t.test('a holder paused past its lease learns it lost the lock; its stale fence is rejected', async (t) => {
  const server = await RedisServer.start(t);
  const leaseMs = 300;
  const b = redisUnderTest(t, server, leaseMs);
  const name = testName('redis-pause');
  const m = b.mutex(t, name);
  const resource = new FencedResource();
  const sleeper = await agent(t, server, name, leaseMs);
  const stale = await ask<{ fence: bigint }>(sleeper, 'acquire');
  t.ok(resource.write(stale.fence), 'the holder writes while it holds');
  sleeper.kill('SIGSTOP');
  t.teardown(() => sleeper.kill('SIGCONT'));
  const g = await m.acquire({ timeout: 10_000 }); // after the paused holder's lease
  t.equal(g.ownerDied, true, 'its lease ran out without a release');
  t.ok(g.fence > stale.fence);
  t.ok(resource.write(g.fence), 'the new holder writes');
  sleeper.kill('SIGCONT');
  const lost = await sleeper.message<{ type: string; aborted: boolean; code: string }>('lost');
  t.equal(lost.aborted, true, "the paused holder's guard.signal aborted");
  t.equal(lost.code, 'SHMSYNC_LOCK_LOST', 'with LockLostError');
  const late = await ask<{ fence: bigint; aborted: boolean }>(sleeper, 'write');
  t.equal(late.fence, stale.fence);
  t.equal(resource.write(late.fence), false, 'the fenced resource rejects the stale fence');
  t.same(resource.writes, [stale.fence, g.fence]);
  g.release();
  await ask(sleeper, 'exit');
});

t.test('a holder whose server is gone longer than its lease learns it lost the lock', async (t) => {
  const server = await RedisServer.start(t, { persist: true });
  const leaseMs = 300;
  const b = redisUnderTest(t, server, leaseMs);
  const name = testName('redis-gone');
  const m = b.mutex(t, name);
  const g = await m.acquire();
  let event: { name: string; fence: bigint; error: Error } | undefined;
  await server.restart({
    kill: true,
    between: async () => {
      [event] = (await once(m, 'lost')) as [{ name: string; fence: bigint; error: Error }];
    },
  });
  t.equal(event?.name, name);
  t.equal(event?.fence, g.fence);
  t.equal(g.signal.aborted, true);
  t.equal((g.signal.reason as { code?: string }).code, 'SHMSYNC_LOCK_LOST');
  t.equal(g.release(), true, 'releasing a lost hold is allowed (nothing to give back)');
  const again = await m.acquire({ timeout: 10_000 });
  t.ok(again.fence > g.fence, 'the fencing counter survived the restart (AOF)');
  t.equal(again.ownerDied, true, 'the lost hold counts as an owner death');
  again.release();
  t.type(Mutex, 'function');
});
