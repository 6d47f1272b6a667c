import t from 'tap';
import { lockConformance, redisUnderTest, shmUnderTest } from './helpers/lock-conformance';
import { RedisServer } from './helpers/redis-server';

// One suite, two backends: the same Mutex / Lockable / LockManager behaviour on shared memory
// and on a real redis-server (300 ms leases). test/helpers/lock-conformance.ts has the cases.

t.test('shared memory', async (t) => {
  lockConformance(t, shmUnderTest());
});

t.test('redis', async (t) => {
  const server = await RedisServer.start(t);
  lockConformance(t, redisUnderTest(t, server));
});
